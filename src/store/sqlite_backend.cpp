// SQLite behind store::Database (see backend.hpp). Every SQLite error becomes a StoreError
// carrying SQLite's message and extended result code (and, for statements, the start of the SQL
// that failed).
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <mutex>
#include <utility>

#include "store/backend.hpp"
#include "store/sql.hpp"

namespace valtronics::store::backend {

namespace {

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : "out of memory";
  throw StoreError(msg, db ? sqlite3_extended_errcode(db) : SQLITE_NOMEM);
}

// The first line of a statement's SQL, for error messages.
std::string sql_excerpt(sqlite3_stmt* stmt) {
  const char* text = stmt ? sqlite3_sql(stmt) : nullptr;
  if (!text) return "?";
  std::string_view s(text);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
  auto nl = s.find('\n');
  if (nl != std::string_view::npos) s = s.substr(0, nl);
  if (s.size() > 80) s = s.substr(0, 80);
  return std::string(s);
}

bool is_memory_path(const std::string& path) {
  return path.empty() || path.find(":memory:") != std::string::npos ||
         path.find("mode=memory") != std::string::npos;
}

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, &tail);
    if (rc != SQLITE_OK) {
      std::string_view head = sql.substr(0, 80);
      fail(db, "sqlite: cannot prepare '" + std::string(head) + "'");
    }
    if (!stmt_) throw StoreError("sqlite: empty statement");
    if (tail) {
      std::string_view rest(tail, sql.data() + sql.size() - tail);
      if (rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
        sqlite3_finalize(stmt_);
        stmt_ = nullptr;
        throw StoreError("sqlite: prepare() takes one statement; use exec() for several");
      }
    }
  }
  ~SqliteStatement() override {
    if (stmt_) sqlite3_finalize(stmt_);
  }

  void bind_int(int i, std::int64_t v) override { check(sqlite3_bind_int64(stmt_, i, v), i); }
  void bind_double(int i, double v) override { check(sqlite3_bind_double(stmt_, i, v), i); }
  void bind_text(int i, std::string_view v) override {
    // A null data pointer would bind NULL: an empty string must stay an empty string.
    const char* data = v.data() ? v.data() : "";
    check(sqlite3_bind_text64(stmt_, i, data, v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), i);
  }
  void bind_null(int i) override { check(sqlite3_bind_null(stmt_, i), i); }
  void clear_bindings() override { sqlite3_clear_bindings(stmt_); }

  bool step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, "sqlite: '" + sql_excerpt(stmt_) + "'");
  }
  void reset() override { sqlite3_reset(stmt_); }

  bool is_null(int col) const override {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  std::int64_t column_int(int col) const override { return sqlite3_column_int64(stmt_, col); }
  double column_double(int col) const override { return sqlite3_column_double(stmt_, col); }
  std::string column_text(int col) const override {
    const unsigned char* text = sqlite3_column_text(stmt_, col);
    if (!text) return {};
    return std::string(reinterpret_cast<const char*>(text),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }

 private:
  void check(int rc, int i) {
    if (rc != SQLITE_OK)
      fail(db_, "sqlite: cannot bind parameter " + std::to_string(i) + " of '" +
                    sql_excerpt(stmt_) + "'");
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDatabase final : public DatabaseImpl {
 public:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  ~SqliteDatabase() override {
    // close_v2 defers the close until stray statements are finalized instead of failing.
    sqlite3_close_v2(db_);
  }

  Dialect dialect() const override { return Dialect::sqlite; }

  void exec(std::string_view sql) override {
    std::string text(sql);  // sqlite3_exec wants a NUL-terminated string
    char* err = nullptr;
    int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = "sqlite: ";
      msg += err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      throw StoreError(msg, sqlite3_extended_errcode(db_));
    }
  }

  std::unique_ptr<StatementImpl> prepare(std::string_view sql, const char*) override {
    return std::make_unique<SqliteStatement>(db_, sql);
  }

  int changes() const override { return sqlite3_changes(db_); }
  bool in_transaction() const override { return !sqlite3_get_autocommit(db_); }

  void rollback_quietly() noexcept override {
    // SQLite rolls back by itself after some errors (full disk, I/O error, ...): only roll back
    // a transaction that is still open, and never throw from here.
    if (sqlite3_get_autocommit(db_)) return;
    char* err = nullptr;
    if (sqlite3_exec(db_, sql::kRollback, nullptr, nullptr, &err) != SQLITE_OK) {
      spdlog::error("sqlite: rollback failed: {}", err ? err : "?");
      sqlite3_free(err);
    }
  }

 private:
  sqlite3* db_;
};

}  // namespace

bool sqlite_storage_unavailable(int code) {
  switch (code & 0xff) {  // the primary result code
    case SQLITE_BUSY:       // another connection holds the lock beyond the busy timeout
    case SQLITE_LOCKED:
    case SQLITE_IOERR:      // includes short writes and fsync failures
    case SQLITE_FULL:       // the disk (or quota) is full
    case SQLITE_CANTOPEN:   // e.g. the WAL or a temporary file cannot be created
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

namespace {

// Statement journals kept in memory up to this many bytes (SQLite's default: 64 KiB). Inside a
// transaction, a multi-row INSERT or upsert (the writer's 100-row batches) keeps a statement
// journal of the pages it changes, to undo only that statement if it fails half way. Once one
// passes the threshold it spills to a temp file, and from then on SQLite writes each changed
// page there with two pwrite(2)s (a 4-byte page number and the page) for every statement of the
// transaction. Measured on ingest with history on: that was most of the writer thread's system
// time (docs/benchmarks.md, "Telemetry history"). A statement's journal holds at most the pages
// it changes (~100 for 100 history rows) and is freed when it ends; a larger one (a huge DELETE)
// still spills. Sorts and temporary tables keep their own spill rules (temp_store unchanged).
constexpr int kStatementJournalSpillBytes = 16 << 20;

// sqlite3_config works only before SQLite initializes, i.e. before the process's first open.
// If something opened a database first (a test using SQLite directly), journals spill as
// before: slower, still correct.
void configure_sqlite_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    int rc = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kStatementJournalSpillBytes);
    if (rc != SQLITE_OK)
      spdlog::debug("sqlite: statement journal spill size left at its default: {}",
                    sqlite3_errstr(rc));
  });
}

}  // namespace

std::unique_ptr<DatabaseImpl> open_sqlite(const std::string& path) {
  configure_sqlite_once();
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg =
        "cannot open database " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    sqlite3_close_v2(raw);
    throw StoreError(msg);
  }
  auto db = std::make_unique<SqliteDatabase>(raw);
  try {
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);
    if (!is_memory_path(path)) {
      // journal_mode answers with the mode in effect: anything but "wal" means the file system
      // refused it (e.g. no shared memory); the database still works, with weaker concurrency.
      SqliteStatement st(raw, sql::kPragmaJournalWal);
      std::string mode = st.step() ? st.column_text(0) : std::string();
      if (mode != "wal") spdlog::warn("database {}: journal_mode is '{}', not WAL", path, mode);
    }
    // See sql::kPragmaSynchronousNormal for what NORMAL keeps across a crash.
    db->exec(sql::kPragmaSynchronousNormal);
    db->exec(sql::kPragmaForeignKeysOn);
  } catch (const StoreError& e) {
    throw StoreError("cannot open database " + path + ": " + e.what());
  }
  return db;
}

}  // namespace valtronics::store::backend
