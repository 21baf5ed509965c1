// What store::Database and store::Statement (db.hpp) ask of a database engine: SQLite
// (sqlite_backend.cpp, the embedded default) or PostgreSQL (pg_backend.cpp, libpq). Internal to
// store/: the rest of the server sees only db.hpp and repositories.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/db.hpp"

namespace valtronics::store::backend {

class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  // 1-based parameters, as SQLite numbers them (?1, ?2; a bare ? takes the next number).
  virtual void bind_int(int i, std::int64_t v) = 0;
  virtual void bind_double(int i, double v) = 0;
  virtual void bind_text(int i, std::string_view v) = 0;
  virtual void bind_null(int i) = 0;
  virtual void clear_bindings() = 0;
  virtual bool step() = 0;  // true: a row is available
  virtual void reset() = 0;
  virtual bool is_null(int col) const = 0;
  virtual std::int64_t column_int(int col) const = 0;
  virtual double column_double(int col) const = 0;
  virtual std::string column_text(int col) const = 0;
};

class DatabaseImpl {
 public:
  virtual ~DatabaseImpl() = default;
  virtual Dialect dialect() const = 0;
  virtual void exec(std::string_view sql) = 0;
  // `cache_key`: non-null for a statement kept for the connection's life (Database::cached),
  // which an engine may prepare once on its side.
  virtual std::unique_ptr<StatementImpl> prepare(std::string_view sql, const char* cache_key) = 0;
  virtual int changes() const = 0;  // rows changed by the last statement run
  virtual bool in_transaction() const = 0;
  virtual void rollback_quietly() noexcept = 0;  // for a Transaction destroyed uncommitted
};

std::unique_ptr<DatabaseImpl> open_sqlite(const std::string& path);
// StoreError::storage_unavailable for an SQLite extended result code.
bool sqlite_storage_unavailable(int code);
std::unique_ptr<DatabaseImpl> open_postgres(const std::string& uri);

}  // namespace valtronics::store::backend
