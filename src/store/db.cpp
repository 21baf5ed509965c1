// store::Database, Statement and Transaction over the engine chosen at open() (see db.hpp and
// backend.hpp).
#include "store/db.hpp"

#include <limits>
#include <unordered_map>
#include <utility>

#include "store/backend.hpp"
#include "store/sql.hpp"

namespace valtronics::store {

// ---- StoreError ----

bool StoreError::storage_unavailable() const {
  return unavailable_ || backend::sqlite_storage_unavailable(code_);
}

// ---- Database ----

struct Database::StatementCache {
  std::unordered_map<const char*, std::unique_ptr<Statement>> statements;
};

bool Database::is_postgres(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string Database::display_name(std::string_view location) {
  if (!is_postgres(location)) return std::string(location);
  // scheme://user:password@host...: the password goes, the rest helps whoever reads the log.
  const auto scheme_end = location.find("://") + 3;
  const auto at = location.find('@', scheme_end);
  if (at == std::string_view::npos) return std::string(location);
  const auto colon = location.substr(0, at).find(':', scheme_end);
  if (colon == std::string_view::npos) return std::string(location);
  return std::string(location.substr(0, colon)) + ":***" + std::string(location.substr(at));
}

Database Database::open(const std::string& location) {
  if (is_postgres(location))
    return Database(backend::open_postgres(location), display_name(location));
  return Database(backend::open_sqlite(location), location);
}

Database::Database(std::unique_ptr<backend::DatabaseImpl> impl, std::string path)
    : impl_(std::move(impl)), path_(std::move(path)) {}

Database::Database(Database&& other) noexcept = default;

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    cache_.reset();  // its statements belong to the connection about to close
    impl_ = std::move(other.impl_);
    path_ = std::move(other.path_);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Database::~Database() { cache_.reset(); }

void Database::exec(std::string_view sql) { impl_->exec(sql); }

Statement Database::prepare(std::string_view sql) { return Statement(impl_->prepare(sql, nullptr)); }

Statement& Database::cached(const char* sql) {
  if (!cache_) cache_ = std::make_unique<StatementCache>();
  auto& slot = cache_->statements[sql];
  if (!slot) {
    slot = std::make_unique<Statement>(impl_->prepare(sql, sql));
  } else {
    slot->reset();
    slot->clear_bindings();
  }
  return *slot;
}

int Database::changes() const { return impl_->changes(); }
bool Database::in_transaction() const { return impl_->in_transaction(); }
Dialect Database::dialect() const { return impl_->dialect(); }
void Database::rollback_quietly() noexcept { impl_->rollback_quietly(); }

// ---- Statement ----

Statement::Statement(std::unique_ptr<backend::StatementImpl> impl) : impl_(std::move(impl)) {}
Statement::Statement(Statement&&) noexcept = default;
Statement::~Statement() = default;

Statement& Statement::bind(int i, std::int64_t v) {
  impl_->bind_int(i, v);
  return *this;
}

Statement& Statement::bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }

Statement& Statement::bind(int i, std::uint64_t v) {
  if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw StoreError("store: parameter " + std::to_string(i) + " out of range");
  return bind(i, static_cast<std::int64_t>(v));
}

Statement& Statement::bind(int i, double v) {
  impl_->bind_double(i, v);
  return *this;
}

Statement& Statement::bind(int i, std::string_view v) {
  impl_->bind_text(i, v);
  return *this;
}

Statement& Statement::bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }

Statement& Statement::bind(int i, const char* v) {
  if (!v) return bind(i, std::nullopt);
  return bind(i, std::string_view(v));
}

Statement& Statement::bind(int i, std::nullopt_t) {
  impl_->bind_null(i);
  return *this;
}

Statement& Statement::bind(int i, const std::optional<std::int64_t>& v) {
  return v ? bind(i, *v) : bind(i, std::nullopt);
}

Statement& Statement::bind(int i, const std::optional<std::string>& v) {
  return v ? bind(i, std::string_view(*v)) : bind(i, std::nullopt);
}

void Statement::clear_bindings() { impl_->clear_bindings(); }
bool Statement::step() { return impl_->step(); }

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() { impl_->reset(); }
bool Statement::is_null(int col) const { return impl_->is_null(col); }
std::int64_t Statement::column_int(int col) const { return impl_->column_int(col); }
double Statement::column_double(int col) const { return impl_->column_double(col); }
std::string Statement::column_text(int col) const { return impl_->column_text(col); }

std::optional<std::int64_t> Statement::column_opt_int(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int(col);
}

std::optional<std::string> Statement::column_opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_text(col);
}

// ---- Transaction ----

Transaction::Transaction(Database& db) : db_(db) {
  db_.exec(db.dialect() == Dialect::sqlite ? sql::kBeginImmediate : sql::kBegin);
}

Transaction::~Transaction() {
  if (!done_ && db_.in_transaction()) db_.rollback_quietly();
}

void Transaction::commit() {
  db_.exec(sql::kCommit);  // on failure (e.g. busy) the transaction stays open: the dtor rolls back
  done_ = true;
}

}  // namespace valtronics::store
