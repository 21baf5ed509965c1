// Unit tests of store/migrations: a new database goes to the latest schema, re-opening is a
// no-op, and a database newer than this binary is refused untouched. Real temporary files, or
// real PostgreSQL databases (support/temp_db_file.hpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/temp_db_file.hpp"
#include "store/migrations.hpp"
#include "store/repositories.hpp"
#include "store/sql.hpp"

namespace valtronics::store {
namespace {


std::string read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The tables and indexes of the schema, as "table:NAME" and "index:NAME" (PostgreSQL: without
// the primary keys' own indexes, which SQLite does not list, and the schema version's table).
std::vector<std::string> schema_objects(Database& db) {
  std::vector<std::string> names;
  Statement st = db.prepare(
      db.dialect() == Dialect::postgresql
          ? "SELECT 'table:' || table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_name <> 'valtronics_schema_version' "
            "UNION SELECT 'index:' || indexname FROM pg_indexes "
            "WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' ORDER BY 1"
          : "SELECT type || ':' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
            "ORDER BY 1");
  while (st.step()) names.push_back(st.column_text(0));
  return names;
}

TEST(StoreMigrations, NewDatabaseGoesToLatest) {
  TempDbFile file;
  Database db = Database::open(file.str());
  EXPECT_EQ(schema_version(db), 0);
  migrate(db);
  EXPECT_EQ(schema_version(db), latest_schema_version());
  EXPECT_GE(latest_schema_version(), 1);
  std::vector<std::string> expected = {
      "index:alerts_device_id",
      "index:alerts_status_resolved_at",
      "index:device_status_changes_device_ts",
      "index:telemetry_history_device_metric_ts",
      "index:telemetry_minutes_minute",
      "table:alert_retention",
      "table:alert_rules",
      "table:alerts",
      "table:device_status_changes",
      "table:devices",
      "table:latest_metrics",
      "table:rule_windows",
      "table:telemetry_history",
      "table:telemetry_minutes",
  };
  EXPECT_EQ(schema_objects(db), expected);
  if (db.dialect() == Dialect::postgresql) return;
  // latest_metrics is WITHOUT ROWID; alerts use AUTOINCREMENT (sqlite_sequence exists).
  EXPECT_THROW(db.prepare("SELECT rowid FROM latest_metrics"), StoreError);
  Statement seq = db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_sequence'");
  ASSERT_TRUE(seq.step());
  EXPECT_EQ(seq.column_int(0), 1);
}

// A database written by a binary of schema version 1 keeps its rows and starts with nothing
// pruned (nothing ever was: version 1 had no retention).
TEST(StoreMigrations, VersionOneGainsAlertRetention) {
  TempDbFile file;
  {
    Database db = Database::open(file.str());
    db.exec(db.dialect() == Dialect::postgresql ? sql::pg::kSchemaV1 : sql::kSchemaV1);
    set_schema_version(db, 1);
    db.exec("INSERT INTO alerts (device_id, severity, alert_type, status, ts) "
            "VALUES (1, 'warning', 'threshold', 'resolved', 1)");
  }
  Database db = Database::open(file.str());
  ASSERT_EQ(schema_version(db), 1);
  migrate(db);
  EXPECT_EQ(schema_version(db), latest_schema_version());
  EXPECT_EQ(max_pruned_alert_id(db), 0);
  EXPECT_EQ(count_alerts(db, {}), 1);
  EXPECT_EQ(prune_resolved_alerts(db, util::TimePoint{std::chrono::milliseconds{2}}, 10), 1u);
  EXPECT_EQ(max_pruned_alert_id(db), 1);
}

TEST(StoreMigrations, VersionThreeGainsRuleWindowsKeepingItsData) {
  // A database of schema version 3 (before duration windows were stored) with a device:
  // version 4 adds rule_windows, empty, and leaves the rest as it was.
  TempDbFile file;
  {
    Database old = Database::open(file.str());
    const bool pg = old.dialect() == Dialect::postgresql;
    old.exec(pg ? sql::pg::kSchemaV1 : sql::kSchemaV1);
    old.exec(pg ? sql::pg::kSchemaV2 : sql::kSchemaV2);
    old.exec(pg ? sql::pg::kSchemaV3 : sql::kSchemaV3);
    set_schema_version(old, 3);
    old.exec("INSERT INTO devices (id, name, device_type, created_at, updated_at) "
             "VALUES (7, 'd', 'sensor', 1, 1)");
  }
  Database db = Database::open(file.str());
  migrate(db);
  EXPECT_EQ(schema_version(db), 4);
  Statement devices = db.prepare("SELECT COUNT(*) FROM devices WHERE id = 7");
  ASSERT_TRUE(devices.step());
  EXPECT_EQ(devices.column_int(0), 1);
  EXPECT_TRUE(load_rule_windows(db).empty());
  save_rule_window(db, {3, 7, util::TimePoint(std::chrono::milliseconds(1'796'601'600'123)), 35.5});
  save_rule_window(db, {3, 7, util::TimePoint(std::chrono::milliseconds(1'796'601'600'456)), 36});
  auto windows = load_rule_windows(db);
  ASSERT_EQ(windows.size(), 1u) << "one window per (rule, device): the later replaces it";
  EXPECT_EQ(windows[0].since, util::TimePoint(std::chrono::milliseconds(1'796'601'600'456)));
  EXPECT_DOUBLE_EQ(windows[0].value, 36);
  delete_rule_window(db, 3, 7);
  EXPECT_TRUE(load_rule_windows(db).empty());
}

TEST(StoreMigrations, ReopenIsANoOp) {
  TempDbFile file;
  {
    Database db = Database::open(file.str());
    migrate(db);
    db.exec("INSERT INTO devices (id, name, created_at, updated_at) VALUES (7, 'd', 1, 2)");
  }
  Database db = Database::open(file.str());
  auto before = schema_objects(db);
  migrate(db);
  EXPECT_EQ(schema_version(db), latest_schema_version());
  EXPECT_EQ(schema_objects(db), before);
  Statement st = db.prepare("SELECT name FROM devices WHERE id = 7");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_text(0), "d");
}

TEST(StoreMigrations, NewerDatabaseIsRefusedUntouched) {
  TempDbFile file;
  {
    Database db = Database::open(file.str());
    migrate(db);
    db.exec("INSERT INTO devices (id, name, created_at, updated_at) VALUES (1, 'x', 1, 2)");
    set_schema_version(db, 99);
  }
  const bool sqlite = !TempDbFile::postgres();
  const std::string bytes = sqlite ? read_bytes(file.path()) : "";
  ASSERT_TRUE(!sqlite || !bytes.empty());
  {
    Database db = Database::open(file.str());
    try {
      migrate(db);
      FAIL() << "expected StoreError";
    } catch (const StoreError& e) {
      EXPECT_EQ(std::string(e.what()), "database " + db.path() +
                                           " has schema version 99, newer than this binary " +
                                           "supports (" + std::to_string(latest_schema_version()) +
                                           "): upgrade valtronics or use another --db");
    }
    EXPECT_EQ(schema_version(db), 99);
  }
  if (sqlite) EXPECT_EQ(read_bytes(file.path()), bytes);  // not a byte written
  Database db = Database::open(file.str());
  Statement st = db.prepare("SELECT COUNT(*) FROM devices");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_int(0), 1);
}

TEST(StoreMigrations, NewerEmptyDatabaseGetsNoTables) {
  TempDbFile file;
  {
    Database db = Database::open(file.str());
    set_schema_version(db, 99);
  }
  Database db = Database::open(file.str());
  EXPECT_THROW(migrate(db), StoreError);
  EXPECT_TRUE(schema_objects(db).empty());
}

TEST(StoreMigrations, MemoryDatabaseMigrates) {
  Database db = Database::open(":memory:");
  migrate(db);
  EXPECT_EQ(schema_version(db), latest_schema_version());
  migrate(db);
  EXPECT_EQ(schema_version(db), latest_schema_version());
}

TEST(StoreMigrations, TwoConnectionsMigratingTheSameFileAgree) {
  TempDbFile file;
  Database a = Database::open(file.str());
  Database b = Database::open(file.str());
  migrate(a);
  migrate(b);  // sees the version under its write lock: nothing to do
  EXPECT_EQ(schema_version(b), latest_schema_version());
}

}  // namespace
}  // namespace valtronics::store
