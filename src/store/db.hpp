// The database connection the store works through: SQLite (a file, the embedded default) or
// PostgreSQL (a postgresql:// URI, for several nodes sharing one database), behind one API of
// prepared statements with typed bind/column helpers and a transaction guard (the engines are
// in backend.hpp). Errors are StoreError exceptions carrying the engine's message; callers on
// the server's threads catch and log them.
#pragma once

#include <cstdint>
#include <memory>
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
  // A failure of the storage itself, whatever the engine (PostgreSQL: the connection lost, the
  // server shutting down, out of disk).
  struct Unavailable {};
  StoreError(const std::string& what, Unavailable) : std::runtime_error(what), unavailable_(true) {}
  int code() const { return code_; }
  // True when the failure is the storage's, not the operation's: disk full, I/O error, the
  // database locked or busy beyond the busy timeout, the file not openable, the database
  // server unreachable. Running the same operation later may succeed, so the writer keeps it
  // and retries (store/writer.hpp).
  bool storage_unavailable() const;

 private:
  int code_ = 0;
  bool unavailable_ = false;
};

// The SQL a connection speaks: the few statements that differ are chosen by it (store/sql.hpp).
enum class Dialect { sqlite, postgresql };

namespace backend {
class DatabaseImpl;
class StatementImpl;
}  // namespace backend

class Statement;

class Database {
 public:
  // Opens `location`: a postgresql:// (or postgres://) URI selects PostgreSQL (libpq; any URI
  // libpq takes); anything else is a SQLite file, created if needed (":memory:" for an
  // in-memory database; WAL journal, synchronous=NORMAL, foreign keys, busy timeout 5 s).
  // Throws StoreError naming the location (without its password).
  static Database open(const std::string& location);
  static bool is_postgres(std::string_view location);
  // `location` as logs and messages show it: a URI's password replaced by "***".
  static std::string display_name(std::string_view location);

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  Database(const Database&) = delete;
  ~Database();

  void exec(std::string_view sql);              // one or more statements, no results
  Statement prepare(std::string_view sql);
  int changes() const;                           // rows changed by the last statement
  bool in_transaction() const;
  Dialect dialect() const;
  const std::string& path() const { return path_; }  // display_name() of the location

  // A prepared statement kept for the life of this connection, keyed by the address of `sql`,
  // which must have static storage duration (the constants of store/sql.hpp). Returned reset
  // with its bindings cleared; do not hold it across another cached() call with the same SQL.
  // Used for the hot writes (latest metrics, history, alerts).
  Statement& cached(const char* sql);

 private:
  friend class Transaction;
  struct StatementCache;
  Database(std::unique_ptr<backend::DatabaseImpl> impl, std::string path);
  void rollback_quietly() noexcept;  // a transaction still open, never throwing
  std::unique_ptr<backend::DatabaseImpl> impl_;
  std::string path_;
  std::unique_ptr<StatementCache> cache_;  // destroyed before impl_ (declared after it)
};

class Statement {
 public:
  explicit Statement(std::unique_ptr<backend::StatementImpl> impl);
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
  // Exact matches for common argument types, which would otherwise be ambiguous between the
  // overloads above (int: int64/double; std::string and literals: string_view/optional).
  Statement& bind(int i, int v);
  Statement& bind(int i, std::uint64_t v);  // throws StoreError above INT64_MAX
  Statement& bind(int i, const std::string& v);
  Statement& bind(int i, const char* v);
  void clear_bindings();  // every parameter back to NULL

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
  std::unique_ptr<backend::StatementImpl> impl_;
};

// BEGIN (SQLite: BEGIN IMMEDIATE, the write lock at once) on construction; ROLLBACK in the
// destructor unless commit() was called.
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
