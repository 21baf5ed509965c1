// PostgreSQL behind store::Database (see backend.hpp), through libpq (Debian libpq-dev).
//
// Statements take the store's SQL with ?N placeholders translated to $N (store/placeholders);
// parameters go as text and PostgreSQL infers their types from where they stand. A statement
// kept by Database::cached() is prepared once on the server (PQprepare) and executed by name;
// others are sent with their parameters each time (PQexecParams). Each connection is used by one
// thread (the engine's reader, the writer), as SQLite's are.
//
// A lost connection is the storage being unavailable (StoreError::storage_unavailable): the
// writer keeps its batch and tries again, and the next use of the connection reconnects
// (PQreset) and prepares its statements again.
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <optional>
#include <vector>

#include "store/backend.hpp"
#include "store/placeholders.hpp"
#include "store/sql.hpp"

namespace valtronics::store::backend {

namespace {

// SQLSTATE classes and codes that say the database, not the statement, is the problem: retrying
// the same work later may succeed.
bool unavailable_state(std::string_view state) {
  return state.starts_with("08")      // connection exception
         || state.starts_with("53")   // insufficient resources: disk full, out of memory
         || state.starts_with("57P")  // the server shutting down or starting up
         || state == "40001"          // serialization failure
         || state == "40P01";         // deadlock detected
}

// The first line of some SQL, for error messages.
std::string excerpt(std::string_view sql) {
  while (!sql.empty() && (sql.front() == '\n' || sql.front() == ' ')) sql.remove_prefix(1);
  sql = sql.substr(0, std::min(sql.find('\n'), std::size_t{80}));
  return std::string(sql);
}

std::string trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

class PgDatabase;

class PgStatement final : public StatementImpl {
 public:
  PgStatement(PgDatabase& db, std::string sql, std::string name)
      : db_(db), sql_(std::move(sql)), name_(std::move(name)) {}
  ~PgStatement() override { clear_result(); }

  void bind_int(int i, std::int64_t v) override { slot(i) = std::to_string(v); }
  void bind_double(int i, double v) override {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form
    slot(i) = std::string(buf, end);
  }
  void bind_text(int i, std::string_view v) override { slot(i) = std::string(v); }
  void bind_null(int i) override { slot(i) = std::nullopt; }
  void clear_bindings() override {
    for (auto& p : params_) p = std::nullopt;
  }

  bool step() override;
  void reset() override { clear_result(); }

  bool is_null(int col) const override { return PQgetisnull(result_, row_, col) == 1; }
  std::int64_t column_int(int col) const override {
    if (is_null(col)) return 0;
    const char* v = PQgetvalue(result_, row_, col);
    std::int64_t out = 0;
    const char* end = v + PQgetlength(result_, row_, col);
    if (std::from_chars(v, end, out).ec == std::errc()) return out;
    return static_cast<std::int64_t>(std::strtod(v, nullptr));  // a double column read as int
  }
  double column_double(int col) const override {
    if (is_null(col)) return 0;
    return std::strtod(PQgetvalue(result_, row_, col), nullptr);
  }
  std::string column_text(int col) const override {
    if (is_null(col)) return {};
    return std::string(PQgetvalue(result_, row_, col),
                       static_cast<std::size_t>(PQgetlength(result_, row_, col)));
  }

 private:
  std::optional<std::string>& slot(int i) {
    if (i < 1) throw StoreError("postgresql: parameter " + std::to_string(i) + " out of range");
    if (params_.size() < static_cast<std::size_t>(i)) params_.resize(static_cast<std::size_t>(i));
    return params_[static_cast<std::size_t>(i) - 1];
  }
  void clear_result() {
    if (result_) PQclear(result_);
    result_ = nullptr;
    row_ = -1;
    rows_ = 0;
  }

  PgDatabase& db_;
  std::string sql_;   // with $N placeholders
  std::string name_;  // of the server-side prepared statement; empty: sent each time
  std::uint64_t prepared_in_ = 0;  // the connection generation it was prepared in (0: never)
  std::vector<std::optional<std::string>> params_;
  PGresult* result_ = nullptr;
  int row_ = -1, rows_ = 0;
};

class PgDatabase final : public DatabaseImpl {
 public:
  PgDatabase(PGconn* conn, std::string name) : conn_(conn), name_(std::move(name)) {}
  ~PgDatabase() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::postgresql; }

  void exec(std::string_view sql) override {
    ensure_connected();
    std::string text(sql);
    PGresult* r = PQexec(conn_, text.c_str());
    check(r, sql);
    PQclear(r);
  }

  std::unique_ptr<StatementImpl> prepare(std::string_view sql, const char* cache_key) override {
    std::string name = cache_key ? "valtronics_" + std::to_string(++statements_) : "";
    return std::make_unique<PgStatement>(*this, to_dollar_placeholders(sql), std::move(name));
  }

  int changes() const override { return changes_; }

  bool in_transaction() const override {
    const auto s = PQtransactionStatus(conn_);
    return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
  }

  void rollback_quietly() noexcept override {
    if (PQstatus(conn_) != CONNECTION_OK) return;  // the server rolled it back when it went
    PGresult* r = PQexec(conn_, sql::kRollback);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
      spdlog::error("postgresql: rollback failed: {}", trimmed(PQerrorMessage(conn_)));
    PQclear(r);
  }

  // Reconnects a connection found broken; a new generation means every prepared statement is
  // gone. Throws StoreError (unavailable) when the server cannot be reached.
  void ensure_connected() {
    if (PQstatus(conn_) == CONNECTION_OK) return;
    PQreset(conn_);
    ++generation_;
    if (PQstatus(conn_) != CONNECTION_OK)
      throw StoreError("postgresql " + name_ + ": " + trimmed(PQerrorMessage(conn_)),
                       StoreError::Unavailable{});
    spdlog::info("postgresql {}: reconnected", name_);
  }

  // Throws StoreError for a failed result (which it clears); records the rows changed.
  void check(PGresult* r, std::string_view sql) {
    const auto status = PQresultStatus(r);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      const char* n = PQcmdTuples(r);
      changes_ = (n && *n) ? std::atoi(n) : 0;
      return;
    }
    const char* field = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const std::string state = field ? field : "";
    std::string message = "postgresql: '" + excerpt(sql) + "': " +
                          trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    if (message.back() == ' ') message += trimmed(PQerrorMessage(conn_));
    PQclear(r);
    if (PQstatus(conn_) != CONNECTION_OK || unavailable_state(state))
      throw StoreError(message, StoreError::Unavailable{});
    throw StoreError(message);
  }

  PGconn* conn() { return conn_; }
  std::uint64_t generation() const { return generation_; }

 private:
  PGconn* conn_;
  std::string name_;
  int changes_ = 0;
  std::uint64_t statements_ = 0;  // names of prepared statements
  std::uint64_t generation_ = 1;  // +1 per reconnect
};

bool PgStatement::step() {
  if (!result_) {
    db_.ensure_connected();
    std::vector<const char*> values;
    values.reserve(params_.size());
    for (const auto& p : params_) values.push_back(p ? p->c_str() : nullptr);
    const int n = static_cast<int>(values.size());
    PGresult* r = nullptr;
    if (name_.empty()) {
      r = PQexecParams(db_.conn(), sql_.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0);
    } else {
      if (prepared_in_ != db_.generation()) {
        PGresult* p = PQprepare(db_.conn(), name_.c_str(), sql_.c_str(), 0, nullptr);
        db_.check(p, sql_);
        PQclear(p);
        prepared_in_ = db_.generation();
      }
      r = PQexecPrepared(db_.conn(), name_.c_str(), n, values.data(), nullptr, nullptr, 0);
    }
    db_.check(r, sql_);  // throws (and clears) on failure
    result_ = r;
    rows_ = PQntuples(r);
    row_ = -1;
  }
  if (row_ + 1 >= rows_) {
    row_ = rows_;
    return false;
  }
  ++row_;
  return true;
}

}  // namespace

std::unique_ptr<DatabaseImpl> open_postgres(const std::string& uri) {
  const std::string name = Database::display_name(uri);
  PGconn* conn = PQconnectdb(uri.c_str());
  if (!conn) throw StoreError("cannot open database " + name + ": out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = "cannot open database " + name + ": " + trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    throw StoreError(msg, StoreError::Unavailable{});
  }
  // NOTICEs ("relation already exists, skipping") are not the log's business.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  auto db = std::make_unique<PgDatabase>(conn, name);
  // Timestamps are integers and text is UTF-8 whatever the server's defaults.
  db->exec("SET client_encoding = 'UTF8'");
  return db;
}

}  // namespace valtronics::store::backend
