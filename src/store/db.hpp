// RAII wrappers over SQLite: a connection (WAL mode, busy timeout, foreign keys), prepared
// statements with typed bind/column helpers, and a transaction guard. Errors are StoreError
// exceptions carrying SQLite's message; callers on the server's threads catch and log them.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace valtronics::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  // `sqlite_code`: SQLite's extended result code of the failure (0 when not from SQLite).
  StoreError(const std::string& what, int sqlite_code)
      : std::runtime_error(what), code_(sqlite_code) {}
  int code() const { return code_; }
  // True when the failure is the storage's, not the operation's: disk full, I/O error, the
  // database locked or busy beyond the busy timeout, the file not openable. Running the same
  // operation later may succeed, so the writer keeps it and retries (store/writer.hpp).
  bool storage_unavailable() const;

 private:
  int code_ = 0;
};

class Statement;

class Database {
 public:
  // Opens (creating if needed) `path` (":memory:" for an in-memory database), sets WAL journal
  // mode (files only), synchronous=NORMAL, foreign_keys=ON, busy_timeout 5 s. Throws StoreError
  // naming the path.
  static Database open(const std::string& path);

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  Database(const Database&) = delete;
  ~Database();

  void exec(std::string_view sql);              // one or more statements, no results
  Statement prepare(std::string_view sql);
  std::int64_t last_insert_rowid() const;
  int changes() const;                           // rows changed by the last statement
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // (Added) A prepared statement kept for the life of this connection, keyed by the address of
  // `sql`, which must have static storage duration (the constants of store/sql.hpp). Returned
  // reset with its bindings cleared; do not hold it across another cached() call with the same
  // SQL. Used for the hot writes (latest metrics, history, alerts).
  Statement& cached(const char* sql);

 private:
  struct StatementCache;
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void close() noexcept;
  sqlite3* db_ = nullptr;
  std::string path_;
  StatementCache* cache_ = nullptr;  // owned; finalized before the connection closes
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  Statement(Statement&&) noexcept;
  Statement(const Statement&) = delete;
  ~Statement();

  // Binding is 1-based like SQLite's. nullopt binds NULL.
  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, double v);
  Statement& bind(int i, std::string_view v);
  Statement& bind(int i, std::nullopt_t);
  Statement& bind(int i, const std::optional<std::int64_t>& v);
  Statement& bind(int i, const std::optional<std::string>& v);
  // (Added) Exact matches for common argument types, which would otherwise be ambiguous between
  // the overloads above (int: int64/double; std::string and literals: string_view/optional).
  Statement& bind(int i, int v);
  Statement& bind(int i, std::uint64_t v);  // throws StoreError above INT64_MAX
  Statement& bind(int i, const std::string& v);
  Statement& bind(int i, const char* v);
  void clear_bindings();  // (Added) every parameter back to NULL

  bool step();   // true: a row is available; false: done. Throws StoreError on error.
  void run();    // step() until done
  void reset();  // ready to bind and run again

  bool is_null(int col) const;
  std::int64_t column_int(int col) const;
  double column_double(int col) const;
  std::string column_text(int col) const;
  std::optional<std::int64_t> column_opt_int(int col) const;
  std::optional<std::string> column_opt_text(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE on construction; ROLLBACK in the destructor unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace valtronics::store
