// RAII wrappers over SQLite (see db.hpp). Every SQLite error becomes a StoreError carrying
// SQLite's message (and, for statements, the start of the SQL that failed).
#include "store/db.hpp"

#include <spdlog/spdlog.h>

#include <limits>
#include <memory>
#include <unordered_map>
#include <utility>

#include "store/sql.hpp"

namespace valtronics::store {

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

}  // namespace

// ---- StoreError ----

bool StoreError::storage_unavailable() const {
  switch (code_ & 0xff) {  // the primary result code
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

// ---- Database ----

struct Database::StatementCache {
  std::unordered_map<const char*, std::unique_ptr<Statement>> statements;
};

Database Database::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg =
        "cannot open database " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    sqlite3_close_v2(raw);
    throw StoreError(msg);
  }
  Database db(raw, path);
  try {
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, 5000);
    if (!is_memory_path(path)) {
      // journal_mode answers with the mode in effect: anything but "wal" means the file system
      // refused it (e.g. no shared memory); the database still works, with weaker concurrency.
      Statement st(raw, sql::kPragmaJournalWal);
      std::string mode = st.step() ? st.column_text(0) : std::string();
      if (mode != "wal") spdlog::warn("database {}: journal_mode is '{}', not WAL", path, mode);
    }
    // See sql::kPragmaSynchronousNormal for what NORMAL keeps across a crash.
    db.exec(sql::kPragmaSynchronousNormal);
    db.exec(sql::kPragmaForeignKeysOn);
  } catch (const StoreError& e) {
    throw StoreError("cannot open database " + path + ": " + e.what());
  }
  return db;
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)),
      cache_(std::exchange(other.cache_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    cache_ = std::exchange(other.cache_, nullptr);
  }
  return *this;
}

Database::~Database() { close(); }

void Database::close() noexcept {
  delete cache_;  // finalizes the cached statements first
  cache_ = nullptr;
  if (db_) {
    // close_v2 defers the close until stray statements are finalized instead of failing.
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

void Database::exec(std::string_view sql) {
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

Statement Database::prepare(std::string_view sql) { return Statement(db_, sql); }

Statement& Database::cached(const char* sql) {
  if (!cache_) cache_ = new StatementCache;
  auto& slot = cache_->statements[sql];
  if (!slot) {
    slot = std::make_unique<Statement>(db_, sql);
  } else {
    slot->reset();
    slot->clear_bindings();
  }
  return *slot;
}

std::int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int Database::changes() const { return sqlite3_changes(db_); }

// ---- Statement ----

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
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

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}

namespace {
void check_bind(sqlite3* db, sqlite3_stmt* stmt, int rc, int i) {
  if (rc != SQLITE_OK)
    fail(db,
         "sqlite: cannot bind parameter " + std::to_string(i) + " of '" + sql_excerpt(stmt) + "'");
}
}  // namespace

Statement& Statement::bind(int i, std::int64_t v) {
  check_bind(db_, stmt_, sqlite3_bind_int64(stmt_, i, v), i);
  return *this;
}

Statement& Statement::bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }

Statement& Statement::bind(int i, std::uint64_t v) {
  if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw StoreError("sqlite: parameter " + std::to_string(i) + " out of range");
  return bind(i, static_cast<std::int64_t>(v));
}

Statement& Statement::bind(int i, double v) {
  check_bind(db_, stmt_, sqlite3_bind_double(stmt_, i, v), i);
  return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
  // A null data pointer would bind NULL: an empty string must stay an empty string.
  const char* data = v.data() ? v.data() : "";
  check_bind(db_, stmt_,
             sqlite3_bind_text64(stmt_, i, data, v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), i);
  return *this;
}

Statement& Statement::bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }

Statement& Statement::bind(int i, const char* v) {
  if (!v) return bind(i, std::nullopt);
  return bind(i, std::string_view(v));
}

Statement& Statement::bind(int i, std::nullopt_t) {
  check_bind(db_, stmt_, sqlite3_bind_null(stmt_, i), i);
  return *this;
}

Statement& Statement::bind(int i, const std::optional<std::int64_t>& v) {
  return v ? bind(i, *v) : bind(i, std::nullopt);
}

Statement& Statement::bind(int i, const std::optional<std::string>& v) {
  return v ? bind(i, std::string_view(*v)) : bind(i, std::nullopt);
}

void Statement::clear_bindings() { sqlite3_clear_bindings(stmt_); }

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, "sqlite: '" + sql_excerpt(stmt_) + "'");
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() { sqlite3_reset(stmt_); }

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::column_double(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::column_text(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  if (!text) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::optional<std::int64_t> Statement::column_opt_int(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int(col);
}

std::optional<std::string> Statement::column_opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_text(col);
}

// ---- Transaction ----

Transaction::Transaction(Database& db) : db_(db) { db_.exec(sql::kBeginImmediate); }

Transaction::~Transaction() {
  // SQLite rolls back by itself after some errors (full disk, I/O error, ...): only roll back a
  // transaction that is still open, and never throw from here.
  if (!done_ && db_.handle() && !sqlite3_get_autocommit(db_.handle())) {
    char* err = nullptr;
    if (sqlite3_exec(db_.handle(), sql::kRollback, nullptr, nullptr, &err) != SQLITE_OK) {
      spdlog::error("sqlite: rollback failed: {}", err ? err : "?");
      sqlite3_free(err);
    }
  }
}

void Transaction::commit() {
  db_.exec(sql::kCommit);  // on failure (e.g. busy) the transaction stays open: the dtor rolls back
  done_ = true;
}

}  // namespace valtronics::store
