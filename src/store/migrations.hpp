// Versioned schema migrations, applied in order at start-up inside one transaction each, with
// the version kept in PRAGMA user_version (SQLite) or the table valtronics_schema_version
// (PostgreSQL). A database whose version is newer than this binary knows is refused (never
// modified).
#pragma once

#include "store/db.hpp"

namespace valtronics::store {

// The schema version this binary writes.
int latest_schema_version();

// Current version of `db` (0 for a new database).
int schema_version(Database& db);

// Records `version` as the schema version of `db` (migrate() does it with each step; tests
// and tools set up older or newer databases with it).
void set_schema_version(Database& db, int version);

// Brings `db` to latest_schema_version(). Throws StoreError with a clear message, e.g.
// "database ./valtronics.db has schema version 7, newer than this binary supports (3): upgrade
// valtronics or use another --db", if the database is newer.
void migrate(Database& db);

}  // namespace valtronics::store
