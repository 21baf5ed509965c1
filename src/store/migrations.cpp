// Schema migrations (see migrations.hpp). Steps are applied in order, each in its own
// BEGIN IMMEDIATE transaction together with the PRAGMA user_version that records it, so a crash
// mid-way leaves the database at the previous version, never half-migrated.
#include "store/migrations.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string>
#include <vector>

#include "store/sql.hpp"

namespace valtronics::store {

namespace {

struct Step {
  int version;      // user_version after this step
  const char* sql;  // from store/sql.hpp
};

// Append new steps at the end; never edit a released one.
const std::vector<Step>& steps() {
  static const std::vector<Step> kSteps = {
      {1, sql::kSchemaV1},
      {2, sql::kSchemaV2},
  };
  return kSteps;
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

int latest_schema_version() { return steps().back().version; }

int schema_version(Database& db) {
  Statement st = db.prepare(sql::kGetUserVersion);
  return st.step() ? static_cast<int>(st.column_int(0)) : 0;
}

void migrate(Database& db) {
  // Checked before any write: a newer database is refused untouched.
  int version = schema_version(db);
  check_not_newer(db, version);
  if (version == latest_schema_version()) return;  // nothing to do, nothing written
  for (const Step& step : steps()) {
    Transaction tx(db);
    // Read again under the write lock: another process may have migrated meanwhile.
    int current = schema_version(db);
    check_not_newer(db, current);
    if (current >= step.version) continue;  // tx rolls back (nothing written)
    spdlog::info("database {}: migrating schema {} -> {}", db.path(), current, step.version);
    try {
      db.exec(step.sql);
      db.exec(sql::kSetUserVersionPrefix + std::to_string(step.version));
      tx.commit();
    } catch (const StoreError& e) {
      throw StoreError(fmt::format("database {}: migration to schema version {} failed: {}",
                                   db.path(), step.version, e.what()));
    }
  }
}

}  // namespace valtronics::store
