// Schema migrations (see migrations.hpp). Steps are applied in order, each in its own
// transaction together with the version that records it, so a crash mid-way leaves the
// database at the previous version, never half-migrated (PostgreSQL's DDL is transactional too).
#include "store/migrations.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string>
#include <vector>

#include "store/sql.hpp"

namespace valtronics::store {

namespace {

struct Step {
  int version;      // schema version after this step
  const char* sql;  // from store/sql.hpp
};

// Append new steps at the end; never edit a released one. Each has its SQLite and its
// PostgreSQL text (store/sql.hpp): the same tables in each engine's types.
struct DialectStep {
  int version;
  const char* sqlite;
  const char* postgres;
};
const std::vector<DialectStep>& all_steps() {
  static const std::vector<DialectStep> kSteps = {
      {1, sql::kSchemaV1, sql::pg::kSchemaV1},
      {2, sql::kSchemaV2, sql::pg::kSchemaV2},
      {3, sql::kSchemaV3, sql::pg::kSchemaV3},
      {4, sql::kSchemaV4, sql::pg::kSchemaV4},
  };
  return kSteps;
}

std::vector<Step> steps(Dialect d) {
  std::vector<Step> out;
  for (const auto& s : all_steps())
    out.push_back({s.version, d == Dialect::postgresql ? s.postgres : s.sqlite});
  return out;
}


void check_not_newer(Database& db, int version) {
  if (version > latest_schema_version())
    throw StoreError(fmt::format(
        "database {} has schema version {}, newer than this binary supports ({}): upgrade "
        "valtronics or use another --db",
        db.path(), version, latest_schema_version()));
  if (version < 0)
    throw StoreError(
        fmt::format("database {} has an invalid schema version {}", db.path(), version));
}

}  // namespace

void set_schema_version(Database& db, int version) {
  if (db.dialect() == Dialect::postgresql) {
    db.exec(sql::pg::kCreateSchemaVersion);
    db.exec(sql::pg::kSetSchemaVersion + std::to_string(version) + ")");
  } else {
    db.exec(sql::kSetUserVersionPrefix + std::to_string(version));
  }
}

int latest_schema_version() { return all_steps().back().version; }

int schema_version(Database& db) {
  if (db.dialect() == Dialect::postgresql) db.exec(sql::pg::kCreateSchemaVersion);
  Statement st = db.prepare(db.dialect() == Dialect::postgresql ? sql::pg::kGetSchemaVersion
                                                                : sql::kGetUserVersion);
  return st.step() ? static_cast<int>(st.column_int(0)) : 0;
}

void migrate(Database& db) {
  // Checked before any write: a newer database is refused untouched.
  int version = schema_version(db);
  check_not_newer(db, version);
  if (version == latest_schema_version()) return;  // nothing to do, nothing written
  for (const Step& step : steps(db.dialect())) {
    Transaction tx(db);
    // PostgreSQL: nodes starting together take turns (SQLite's BEGIN IMMEDIATE already did).
    if (db.dialect() == Dialect::postgresql) db.exec(sql::pg::kMigrationLock);
    // Read again under the write lock: another process may have migrated meanwhile.
    int current = schema_version(db);
    check_not_newer(db, current);
    if (current >= step.version) continue;  // tx rolls back (nothing written)
    spdlog::info("database {}: migrating schema {} -> {}", db.path(), current, step.version);
    try {
      db.exec(step.sql);
      set_schema_version(db, step.version);
      tx.commit();
    } catch (const StoreError& e) {
      throw StoreError(fmt::format("database {}: migration to schema version {} failed: {}",
                                   db.path(), step.version, e.what()));
    }
  }
}

}  // namespace valtronics::store
