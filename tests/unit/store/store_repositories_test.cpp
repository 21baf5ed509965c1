// Unit tests of store/repositories: every record round-trips through a real temporary SQLite
// file or PostgreSQL database (and survives re-opening it), alert ids never go back, corrupt JSON loads as {}, alert
// queries filter with bound parameters, retention prunes resolved alerts and old readings in
// batches (and remembers the largest pruned alert id), and bulk metric upserts insert then update every row.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_db_file.hpp"
#include "store/migrations.hpp"
#include "store/repositories.hpp"
#include "store/sql.hpp"

namespace valtronics::store {
namespace {

using namespace std::chrono_literals;
using model::Alert;
using model::AlertRule;
using model::AlertStatus;
using model::AlertType;
using model::Condition;
using model::Device;
using model::DeviceStatus;
using model::DeviceType;
using model::MetricValue;
using model::Severity;
using model::StatusChange;


util::TimePoint at_ms(std::int64_t ms) { return util::TimePoint{std::chrono::milliseconds{ms}}; }

class StoreRepositories : public ::testing::Test {
 protected:
  void SetUp() override {
    db_.emplace(Database::open(file_.str()));
    migrate(*db_);
  }
  Database& db() { return *db_; }
  void reopen() {
    db_.reset();
    db_.emplace(Database::open(file_.str()));
    migrate(*db_);
  }

  static Device device(std::int64_t id, std::string name) {
    Device d;
    d.id = id;
    d.name = std::move(name);
    d.device_type = DeviceType::gateway;
    d.location = "hall";
    d.manufacturer = "acme";
    d.model = "m1";
    d.firmware_version = "1.2.3";
    d.metadata = {{"floor", 2}, {"tags", boost::json::array{"a", "b"}}};
    d.status = DeviceStatus::online;
    d.last_seen = at_ms(1'700'000'000'123);
    d.created_at = at_ms(1'700'000'000'000);
    d.updated_at = at_ms(1'700'000'000'500);
    return d;
  }

  static Alert alert(std::int64_t device_id, Severity severity = Severity::warning,
                     AlertStatus status = AlertStatus::active,
                     AlertType type = AlertType::threshold) {
    Alert a;
    a.device_id = device_id;
    a.severity = severity;
    a.alert_type = type;
    a.title = "High temperature";
    a.message = "temperature 31 > 30";
    a.status = status;
    a.timestamp = at_ms(1'700'000'001'000);
    a.metadata = {{"threshold_value", 30.0},
                  {"actual_value", 31.0},
                  {"metric", "temperature"},
                  {"rule_id", 3}};
    a.rule_id = 3;
    return a;
  }

  TempDbFile file_;
  std::optional<Database> db_;
};

void expect_same(const Device& a, const Device& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.device_type, b.device_type);
  EXPECT_EQ(a.location, b.location);
  EXPECT_EQ(a.manufacturer, b.manufacturer);
  EXPECT_EQ(a.model, b.model);
  EXPECT_EQ(a.firmware_version, b.firmware_version);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.last_seen, b.last_seen);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

void expect_same(const Alert& a, const Alert& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.device_id, b.device_id);
  EXPECT_EQ(a.severity, b.severity);
  EXPECT_EQ(a.alert_type, b.alert_type);
  EXPECT_EQ(a.title, b.title);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.metadata, b.metadata);
  EXPECT_EQ(a.rule_id, b.rule_id);
  EXPECT_EQ(a.acknowledged_at, b.acknowledged_at);
  EXPECT_EQ(a.acknowledged_by, b.acknowledged_by);
  EXPECT_EQ(a.resolved_at, b.resolved_at);
  EXPECT_EQ(a.resolved_by, b.resolved_by);
  EXPECT_EQ(a.notes, b.notes);
}

std::int64_t rows(Database& db, const std::string& query) {
  Statement st = db.prepare(query);
  return st.step() ? st.column_int(0) : -1;
}

std::vector<std::int64_t> ids(const std::vector<Alert>& alerts) {
  std::vector<std::int64_t> out;
  for (const auto& a : alerts) out.push_back(a.id);
  return out;
}

// ---- devices ----

TEST_F(StoreRepositories, DevicesRoundTripAndSurviveReopen) {
  Device chosen = device(42, "chosen id");
  Device assigned = device(0, "assigned id");
  assigned.last_seen.reset();
  assigned.metadata = {};
  assigned.name = "quote ' and \"double\" and unicode \xC3\xA9";
  EXPECT_EQ(insert_device(db(), chosen), 42);
  std::int64_t id = insert_device(db(), assigned);
  EXPECT_EQ(id, 43);  // rowid after the largest
  assigned.id = id;
  reopen();
  auto devices = load_devices(db());
  ASSERT_EQ(devices.size(), 2u);
  expect_same(devices[0], chosen);
  expect_same(devices[1], assigned);
  EXPECT_FALSE(devices[1].last_seen.has_value());
}

TEST_F(StoreRepositories, DuplicateDeviceIdThrows) {
  insert_device(db(), device(5, "a"));
  EXPECT_THROW(insert_device(db(), device(5, "b")), StoreError);
  EXPECT_EQ(load_devices(db()).size(), 1u);
}

TEST_F(StoreRepositories, UpdateDeviceWritesEveryColumn) {
  Device d = device(1, "old");
  insert_device(db(), d);
  d.name = "new";
  d.device_type = DeviceType::sensor;
  d.location = "roof";
  d.manufacturer = "other";
  d.model = "m2";
  d.firmware_version = "2.0";
  d.metadata = {{"k", "v"}};
  d.status = DeviceStatus::maintenance;
  d.last_seen.reset();
  d.updated_at = at_ms(1'800'000'000'000);
  update_device(db(), d);
  auto devices = load_devices(db());
  ASSERT_EQ(devices.size(), 1u);
  expect_same(devices[0], d);
}

TEST_F(StoreRepositories, StatusAndLastSeenUpdates) {
  Device d = device(1, "d");
  d.last_seen.reset();
  insert_device(db(), d);
  update_device_status(db(), 1, DeviceStatus::online, at_ms(5000), at_ms(6000));
  auto got = load_devices(db()).at(0);
  EXPECT_EQ(got.status, DeviceStatus::online);
  EXPECT_EQ(got.last_seen, at_ms(5000));
  EXPECT_EQ(got.updated_at, at_ms(6000));
  // nullopt keeps the stored last_seen.
  update_device_status(db(), 1, DeviceStatus::offline, std::nullopt, at_ms(7000));
  got = load_devices(db()).at(0);
  EXPECT_EQ(got.status, DeviceStatus::offline);
  EXPECT_EQ(got.last_seen, at_ms(5000));
  EXPECT_EQ(got.updated_at, at_ms(7000));
  update_device_last_seen(db(), 1, at_ms(9000));
  got = load_devices(db()).at(0);
  EXPECT_EQ(got.last_seen, at_ms(9000));
  EXPECT_EQ(got.updated_at, at_ms(7000));
}

TEST_F(StoreRepositories, DeleteDeviceKeepsItsAlerts) {
  insert_device(db(), device(1, "a"));
  insert_device(db(), device(2, "b"));
  std::int64_t alert_id = insert_alert(db(), alert(1));
  MetricValue m{1, "temperature", 20.5, "C", at_ms(1000)};
  MetricValue other{2, "temperature", 21.5, "C", at_ms(1000)};
  upsert_latest_metrics(db(), std::vector{m, other});
  insert_status_change(db(), {1, DeviceStatus::offline, DeviceStatus::online, "telemetry", at_ms(1000)});
  EXPECT_TRUE(delete_device(db(), 1));
  EXPECT_FALSE(delete_device(db(), 1));
  EXPECT_FALSE(delete_device(db(), 999));
  auto devices = load_devices(db());
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].id, 2);
  ASSERT_TRUE(get_alert(db(), alert_id).has_value());
  auto metrics = load_latest_metrics(db());
  ASSERT_EQ(metrics.size(), 1u);  // the deleted device's latest values went with it
  EXPECT_EQ(metrics[0].device_id, 2);
  EXPECT_EQ(rows(db(), "SELECT COUNT(*) FROM device_status_changes WHERE device_id = 1"), 0);
}

TEST_F(StoreRepositories, StatusChangesAreStoredAsNames) {
  insert_status_change(db(), {1, DeviceStatus::offline, DeviceStatus::online, "telemetry", at_ms(1000)});
  insert_status_change(db(), {1, DeviceStatus::online, DeviceStatus::offline, "No telemetry for 5m", at_ms(2000)});
  Statement st = db().prepare(
      "SELECT device_id, old_status, new_status, reason, ts FROM device_status_changes ORDER BY id");
  ASSERT_TRUE(st.step());
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.column_int(0), 1);
  EXPECT_EQ(st.column_text(1), "online");
  EXPECT_EQ(st.column_text(2), "offline");
  EXPECT_EQ(st.column_text(3), "No telemetry for 5m");
  EXPECT_EQ(st.column_int(4), 2000);
  EXPECT_FALSE(st.step());
}

TEST_F(StoreRepositories, CorruptJsonLoadsAsEmptyObject) {
  insert_device(db(), device(1, "a"));
  insert_device(db(), device(2, "b"));
  insert_device(db(), device(3, "c"));
  std::int64_t id = insert_alert(db(), alert(1));
  db().exec("UPDATE devices SET metadata = '{not json' WHERE id = 1");
  db().exec("UPDATE devices SET metadata = '[1, 2]' WHERE id = 2");
  db().exec("UPDATE devices SET metadata = '' WHERE id = 3");
  // Bytes that are not UTF-8 (SQLite stores them; PostgreSQL's TEXT refuses them outright).
  db().exec(std::string("UPDATE alerts SET metadata = ") +
            (db().dialect() == Dialect::sqlite ? "X'00FF'" : "'{broken'") +
            " WHERE id = " + std::to_string(id));
  auto devices = load_devices(db());
  ASSERT_EQ(devices.size(), 3u);
  for (const auto& d : devices) EXPECT_TRUE(d.metadata.empty()) << d.id;
  auto a = get_alert(db(), id);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->metadata.empty());
}

// ---- rules ----

TEST_F(StoreRepositories, RulesRoundTripUpdateDelete) {
  const Condition conditions[] = {Condition::gt,  Condition::gte, Condition::lt,
                                  Condition::lte, Condition::eq,  Condition::ne};
  std::vector<AlertRule> rules;
  for (int i = 0; i < 6; ++i) {
    AlertRule r;
    r.name = "rule " + std::to_string(i);
    if (i % 3 == 0) r.device_id = 10 + i;
    if (i % 3 == 1) r.device_type = DeviceType::sensor;
    r.metric = "temperature";
    r.condition = conditions[i];
    r.threshold = 30.5 + i;
    r.severity = i % 2 ? Severity::critical : Severity::info;
    r.alert_type = i % 2 ? AlertType::threshold : AlertType::system;
    r.duration = std::chrono::milliseconds{1500 * i};
    r.cooldown = std::chrono::minutes{i};
    r.enabled = i % 2 == 0;
    r.created_at = at_ms(1000 + i);
    r.updated_at = at_ms(2000 + i);
    r.id = insert_rule(db(), r);
    EXPECT_EQ(r.id, i + 1);
    rules.push_back(r);
  }
  reopen();
  auto loaded = load_rules(db());
  ASSERT_EQ(loaded.size(), rules.size());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto &a = loaded[i], &b = rules[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.device_id, b.device_id);
    EXPECT_EQ(a.device_type, b.device_type);
    EXPECT_EQ(a.metric, b.metric);
    EXPECT_EQ(a.condition, b.condition);
    EXPECT_DOUBLE_EQ(a.threshold, b.threshold);
    EXPECT_EQ(a.severity, b.severity);
    EXPECT_EQ(a.alert_type, b.alert_type);
    EXPECT_EQ(a.duration, b.duration);
    EXPECT_EQ(a.cooldown, b.cooldown);
    EXPECT_EQ(a.enabled, b.enabled);
    EXPECT_EQ(a.created_at, b.created_at);
    EXPECT_EQ(a.updated_at, b.updated_at);
  }
  AlertRule r = rules[0];
  r.device_id.reset();
  r.device_type = DeviceType::gateway;
  r.threshold = -1;
  r.enabled = false;
  update_rule(db(), r);
  auto after = load_rules(db());
  EXPECT_EQ(after[0].device_id, std::nullopt);
  EXPECT_EQ(after[0].device_type, DeviceType::gateway);
  EXPECT_DOUBLE_EQ(after[0].threshold, -1);
  EXPECT_FALSE(after[0].enabled);
  EXPECT_TRUE(delete_rule(db(), r.id));
  EXPECT_FALSE(delete_rule(db(), r.id));
  EXPECT_EQ(load_rules(db()).size(), 5u);
  // AUTOINCREMENT: a deleted rule's id is not reused.
  AlertRule next = rules[5];
  next.id = 0;
  EXPECT_EQ(insert_rule(db(), next), 7);
}

TEST_F(StoreRepositories, UnknownConditionInDatabaseLoadsDisabled) {
  AlertRule r;
  r.name = "r";
  r.metric = "m";
  insert_rule(db(), r);
  db().exec("UPDATE alert_rules SET condition = 'between'");
  auto rules = load_rules(db());
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_FALSE(rules[0].enabled);
}

// ---- enums ----

// The text of one cell, read with plain SQL.
std::string cell(Database& db, const std::string& sql) {
  Statement st = db.prepare(sql);
  EXPECT_TRUE(st.step()) << sql;
  return st.column_text(0);
}

// Enums are stored as their wire names, the TEXT the columns held before they were enums.
TEST_F(StoreRepositories, EnumsAreStoredAsTheirNames) {
  Device d = device(1, "d");
  d.device_type = DeviceType::controller;
  d.status = DeviceStatus::maintenance;
  insert_device(db(), d);
  EXPECT_EQ(cell(db(), "SELECT device_type || '/' || status FROM devices"),
            "controller/maintenance");
  update_device_status(db(), 1, DeviceStatus::error, std::nullopt, at_ms(1));
  EXPECT_EQ(cell(db(), "SELECT status FROM devices"), "error");
  insert_status_change(db(), {1, DeviceStatus::offline, DeviceStatus::online, "t", at_ms(1)});
  EXPECT_EQ(cell(db(), "SELECT old_status || '/' || new_status FROM device_status_changes"),
            "offline/online");

  AlertRule r;
  r.name = "r";
  r.metric = "m";
  r.device_type = DeviceType::actuator;
  r.condition = Condition::lte;
  r.severity = Severity::info;
  r.alert_type = AlertType::device;
  insert_rule(db(), r);
  EXPECT_EQ(cell(db(), "SELECT device_type || '/' || condition || '/' || severity || '/' || "
                       "alert_type FROM alert_rules"),
            "actuator/lte/info/device");
  r.device_type.reset();
  r.id = 1;
  update_rule(db(), r);
  EXPECT_EQ(cell(db(), "SELECT count(*) FROM alert_rules WHERE device_type IS NULL"), "1");

  Alert a = alert(1, Severity::critical, AlertStatus::active, AlertType::manual);
  a.id = insert_alert(db(), a);
  EXPECT_EQ(cell(db(), "SELECT severity || '/' || alert_type || '/' || status FROM alerts"),
            "critical/manual/active");
  a.status = AlertStatus::acknowledged;
  update_alert_state(db(), a);
  EXPECT_EQ(cell(db(), "SELECT status FROM alerts"), "acknowledged");
}

// Every value of every enum column survives a write and a read.
TEST_F(StoreRepositories, EveryEnumValueRoundTrips) {
  std::int64_t id = 0;
  for (auto t : model::all_values<DeviceType>())
    for (auto st : model::all_values<DeviceStatus>()) {
      Device d = device(++id, "d");
      d.device_type = t;
      d.status = st;
      insert_device(db(), d);
    }
  auto devices = load_devices(db());
  ASSERT_EQ(devices.size(), static_cast<std::size_t>(id));
  for (std::size_t i = 0; i < devices.size(); ++i) {
    EXPECT_EQ(devices[i].device_type, model::all_values<DeviceType>()[i / 5]);
    EXPECT_EQ(devices[i].status, model::all_values<DeviceStatus>()[i % 5]);
  }
  for (auto sev : model::all_values<Severity>())
    for (auto st : model::all_values<AlertStatus>())
      for (auto ty : model::all_values<AlertType>()) {
        Alert a = alert(1, sev, st, ty);
        a.id = insert_alert(db(), a);
        auto got = get_alert(db(), a.id);
        ASSERT_TRUE(got);
        EXPECT_EQ(got->severity, sev);
        EXPECT_EQ(got->status, st);
        EXPECT_EQ(got->alert_type, ty);
      }
  for (auto c : model::all_values<Condition>()) {
    AlertRule r;
    r.name = "r";
    r.metric = "m";
    r.condition = c;
    r.id = insert_rule(db(), r);
    EXPECT_EQ(load_rules(db()).back().condition, c);
  }
}

// A name this server does not know (written by hand or by another version) is refused with a
// StoreError naming the row, the column and the value, rather than loaded as a guess.
TEST_F(StoreRepositories, UnknownEnumNameInDatabaseIsAStoreError) {
  auto expect_error = [](auto&& load, const std::string& fragment) {
    try {
      load();
      ADD_FAILURE() << "no StoreError for " << fragment;
    } catch (const StoreError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  insert_device(db(), device(4, "d"));
  db().exec("UPDATE devices SET status = 'asleep'");
  expect_error([&] { load_devices(db()); },
               "devices row 4: unknown status 'asleep' in the database (expected one of online, "
               "offline, warning, error, maintenance)");
  db().exec("UPDATE devices SET status = 'online', device_type = 'Sensor'");
  expect_error([&] { load_devices(db()); }, "devices row 4: unknown device_type 'Sensor'");

  Alert a = alert(4);
  a.id = insert_alert(db(), a);
  db().exec("UPDATE alerts SET severity = 'fatal'");
  expect_error([&] { get_alert(db(), a.id); }, "alerts row 1: unknown severity 'fatal'");
  expect_error([&] { list_alerts(db(), {}); }, "unknown severity 'fatal'");
  expect_error([&] { load_open_alerts(db()); }, "unknown severity 'fatal'");
  db().exec("UPDATE alerts SET severity = 'info', status = 'closed'");
  expect_error([&] { get_alert(db(), a.id); }, "alerts row 1: unknown status 'closed'");
  // The alert can still be counted; only loading it is refused.
  EXPECT_EQ(count_alerts(db(), {}), 1);

  AlertRule r;
  r.name = "r";
  r.metric = "m";
  insert_rule(db(), r);
  db().exec("UPDATE alert_rules SET alert_type = 'sometimes'");
  expect_error([&] { load_rules(db()); }, "alert_rules row 1: unknown alert_type 'sometimes'");
}

// ---- alerts ----

TEST_F(StoreRepositories, AlertRoundTripAndStateUpdate) {
  Alert a = alert(7);
  a.id = insert_alert(db(), a);
  EXPECT_EQ(a.id, 1);
  reopen();
  auto got = get_alert(db(), a.id);
  ASSERT_TRUE(got);
  expect_same(*got, a);
  EXPECT_FALSE(got->acknowledged_at.has_value());
  a.status = AlertStatus::acknowledged;
  a.acknowledged_at = at_ms(1'700'000'002'000);
  a.acknowledged_by = "alice";
  a.notes = "looking";
  update_alert_state(db(), a);
  expect_same(*get_alert(db(), a.id), a);
  a.status = AlertStatus::resolved;
  a.resolved_at = at_ms(1'700'000'003'000);
  a.resolved_by = "bob";
  update_alert_state(db(), a);
  expect_same(*get_alert(db(), a.id), a);
  EXPECT_FALSE(get_alert(db(), 999).has_value());
  Alert no_rule = alert(8);
  no_rule.rule_id.reset();
  no_rule.metadata = {};
  no_rule.id = insert_alert(db(), no_rule);
  expect_same(*get_alert(db(), no_rule.id), no_rule);
}

TEST_F(StoreRepositories, AlertIdsStrictlyIncreaseAndAreNeverReused) {
  EXPECT_EQ(max_alert_id(db()), 0);
  EXPECT_EQ(min_alert_id(db()), 0);
  std::int64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    std::int64_t id = insert_alert(db(), alert(1));
    EXPECT_GT(id, last);
    last = id;
  }
  db().exec("DELETE FROM alerts WHERE id >= 4");  // the newest ones gone
  reopen();
  EXPECT_EQ(max_alert_id(db()), 3);
  EXPECT_EQ(insert_alert(db(), alert(1)), 6);
  EXPECT_EQ(min_alert_id(db()), 1);
  EXPECT_EQ(max_alert_id(db()), 6);
}

TEST_F(StoreRepositories, ListAndCountAlertsFilter) {
  // id: device, severity, status, type
  insert_alert(db(), alert(1, Severity::info, AlertStatus::active));                 // 1
  insert_alert(db(), alert(2, Severity::warning, AlertStatus::acknowledged));        // 2
  insert_alert(db(), alert(1, Severity::critical, AlertStatus::resolved));           // 3
  insert_alert(db(), alert(3, Severity::critical, AlertStatus::active, AlertType::device));   // 4
  insert_alert(db(), alert(2, Severity::warning, AlertStatus::active));              // 5
  insert_alert(db(), alert(1, Severity::warning, AlertStatus::resolved, AlertType::system));  // 6

  AlertQuery all;
  EXPECT_EQ(ids(list_alerts(db(), all)), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(count_alerts(db(), all), 6);

  AlertQuery q;
  q.statuses = {AlertStatus::active, AlertStatus::acknowledged};
  EXPECT_EQ(ids(list_alerts(db(), q)), (std::vector<std::int64_t>{1, 2, 4, 5}));
  q.severities = {Severity::warning, Severity::critical};
  EXPECT_EQ(ids(list_alerts(db(), q)), (std::vector<std::int64_t>{2, 4, 5}));
  q.device_ids = {2, 3};
  EXPECT_EQ(ids(list_alerts(db(), q)), (std::vector<std::int64_t>{2, 4, 5}));
  q.device_ids = {2};
  EXPECT_EQ(ids(list_alerts(db(), q)), (std::vector<std::int64_t>{2, 5}));
  q.since_id = 2;
  EXPECT_EQ(ids(list_alerts(db(), q)), (std::vector<std::int64_t>{5}));
  EXPECT_EQ(count_alerts(db(), q), 1);

  AlertQuery types;
  types.alert_types = {AlertType::device, AlertType::system};
  EXPECT_EQ(ids(list_alerts(db(), types)), (std::vector<std::int64_t>{4, 6}));

  AlertQuery since;
  since.since_id = 4;
  EXPECT_EQ(ids(list_alerts(db(), since)), (std::vector<std::int64_t>{5, 6}));

  AlertQuery page;
  page.limit = 2;
  page.offset = 2;
  EXPECT_EQ(ids(list_alerts(db(), page)), (std::vector<std::int64_t>{3, 4}));
  EXPECT_EQ(count_alerts(db(), page), 6);  // ignores limit/offset
  page.offset = 10;
  EXPECT_TRUE(list_alerts(db(), page).empty());
}

TEST_F(StoreRepositories, OpenAlertsAreActiveOrAcknowledged) {
  insert_alert(db(), alert(1, Severity::info, AlertStatus::resolved));      // 1
  insert_alert(db(), alert(1, Severity::info, AlertStatus::active));        // 2
  insert_alert(db(), alert(1, Severity::info, AlertStatus::resolved));      // 3
  insert_alert(db(), alert(1, Severity::info, AlertStatus::acknowledged));  // 4
  EXPECT_EQ(ids(load_open_alerts(db())), (std::vector<std::int64_t>{2, 4}));
}

// ---- alert retention ----

// Inserts an alert raised at `raised_ms`, resolved at `resolved_ms` when given.
std::int64_t add_alert(Database& db, AlertStatus status, std::int64_t raised_ms,
                       std::optional<std::int64_t> resolved_ms = std::nullopt) {
  Alert a;
  a.device_id = 1;
  a.severity = Severity::warning;
  a.alert_type = AlertType::threshold;
  a.status = status;
  a.timestamp = at_ms(raised_ms);
  if (resolved_ms) a.resolved_at = at_ms(*resolved_ms);
  return insert_alert(db, a);
}

TEST_F(StoreRepositories, PruneDeletesOnlyResolvedAlertsResolvedBeforeTheCutoff) {
  add_alert(db(), AlertStatus::active, 100);                 // 1: old, active: kept
  add_alert(db(), AlertStatus::acknowledged, 100);           // 2: old, acknowledged: kept
  add_alert(db(), AlertStatus::resolved, 100, 500);          // 3: resolved long ago: pruned
  add_alert(db(), AlertStatus::resolved, 100, 5000);         // 4: raised long ago, resolved after
                                                             //    the cutoff: kept
  add_alert(db(), AlertStatus::resolved, 4000, 4500);        // 5: resolved after the cutoff: kept
  add_alert(db(), AlertStatus::resolved, 200);               // 6: no resolved_at, old ts: pruned
  add_alert(db(), AlertStatus::active, 4000);                // 7
  EXPECT_EQ(max_pruned_alert_id(db()), 0);
  EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 100), 2u);
  EXPECT_EQ(ids(list_alerts(db(), {})), (std::vector<std::int64_t>{1, 2, 4, 5, 7}));
  EXPECT_EQ(max_pruned_alert_id(db()), 6);
  EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 100), 0u);  // nothing left: unchanged
  EXPECT_EQ(max_pruned_alert_id(db()), 6);
  EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 0), 0u);
}

TEST_F(StoreRepositories, PruneWorksInBatchesLongestResolvedFirst) {
  // Resolution times out of id order: 1 at 900, 2 at 300, 3 at 700, 4 at 100, 5 at 500.
  for (std::int64_t resolved : {900, 300, 700, 100, 500})
    add_alert(db(), AlertStatus::resolved, 50, resolved);
  add_alert(db(), AlertStatus::resolved, 50, 5000);  // 6: recent, kept
  EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 2), 2u);  // 4 (100) and 2 (300)
  EXPECT_EQ(ids(list_alerts(db(), {})), (std::vector<std::int64_t>{1, 3, 5, 6}));
  EXPECT_EQ(max_pruned_alert_id(db()), 4);
  EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 2), 2u);  // 5 (500) and 3 (700)
  EXPECT_EQ(ids(list_alerts(db(), {})), (std::vector<std::int64_t>{1, 6}));
  EXPECT_EQ(max_pruned_alert_id(db()), 5);
  EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 2), 1u);  // 1 (900): fewer than asked
  EXPECT_EQ(ids(list_alerts(db(), {})), (std::vector<std::int64_t>{6}));
  EXPECT_EQ(max_pruned_alert_id(db()), 5);  // never lowered
  EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 2), 0u);
}

TEST_F(StoreRepositories, PrunedIdsAreNeverReusedAndTheMarkSurvivesReopen) {
  add_alert(db(), AlertStatus::active, 100);          // 1
  add_alert(db(), AlertStatus::resolved, 100, 200);   // 2: the newest, pruned
  EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 10), 1u);
  reopen();
  EXPECT_EQ(max_pruned_alert_id(db()), 2);
  EXPECT_EQ(max_alert_id(db()), 1);
  EXPECT_EQ(add_alert(db(), AlertStatus::active, 300), 3);
}

TEST_F(StoreRepositories, PruneInsideACallersTransactionRollsBackWithIt) {
  add_alert(db(), AlertStatus::resolved, 100, 200);
  {
    Transaction tx(db());
    EXPECT_EQ(prune_resolved_alerts(db(), at_ms(1000), 10), 1u);
    // no commit: the writer's batch failed
  }
  EXPECT_EQ(count_alerts(db(), {}), 1);
  EXPECT_EQ(max_pruned_alert_id(db()), 0);
}

// A batch reads only the rows it deletes: the query walks the (status, resolution time) index
// and needs no sort, however many alerts the table holds.
TEST_F(StoreRepositories, PruneQueryUsesTheResolutionIndex) {
  SKIP_UNLESS_SQLITE();  // SQLite's EXPLAIN QUERY PLAN
  for (int i = 0; i < 200; ++i)
    add_alert(db(), i % 3 ? AlertStatus::resolved : AlertStatus::active, i, i + 10);
  db().exec("ANALYZE");
  Statement st = db().prepare(std::string("EXPLAIN QUERY PLAN ") + sql::kSelectPrunableAlerts);
  st.bind(1, std::int64_t{100}).bind(2, std::int64_t{10});
  std::string plan;
  while (st.step()) plan += st.column_text(3) + "\n";
  EXPECT_NE(plan.find("USING INDEX alerts_status_resolved_at"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// ---- metrics ----

TEST_F(StoreRepositories, LatestMetricsUpsert) {
  std::vector<MetricValue> first = {{1, "temperature", 20.5, "C", at_ms(1000)},
                                    {1, "humidity", 40, "%", at_ms(1000)},
                                    {2, "temperature", 19, "C", at_ms(1000)}};
  upsert_latest_metrics(db(), first);
  std::vector<MetricValue> second = {{1, "temperature", 22.25, "C", at_ms(2000)}};
  upsert_latest_metrics(db(), second);
  upsert_latest_metrics(db(), {});
  reopen();
  auto all = load_latest_metrics(db());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].device_id, 1);
  EXPECT_EQ(all[0].metric, "humidity");
  EXPECT_EQ(all[1].metric, "temperature");
  EXPECT_DOUBLE_EQ(all[1].value, 22.25);
  EXPECT_EQ(all[1].unit, "C");
  EXPECT_EQ(all[1].timestamp, at_ms(2000));
  EXPECT_EQ(all[2].device_id, 2);
}

// Writes go many rows per statement (100 at most): a call with more rows than that, and with
// one key given twice, stores every key once with the last value given for it.
TEST_F(StoreRepositories, ManyRowsAndRepeatedKeysInOneCall) {
  std::vector<MetricValue> values;
  for (int i = 0; i < 250; ++i) values.push_back({1 + i % 5, "m" + std::to_string(i / 5), 1.0 * i, "u", at_ms(i)});
  values.push_back({1, "m0", -1, "v", at_ms(999)});  // the same key as the first: it wins
  upsert_latest_metrics(db(), values);
  append_history(db(), values);
  auto all = load_latest_metrics(db());
  ASSERT_EQ(all.size(), 250u);
  EXPECT_EQ(all[0].device_id, 1);
  EXPECT_EQ(all[0].metric, "m0");
  EXPECT_DOUBLE_EQ(all[0].value, -1);
  EXPECT_EQ(all[0].unit, "v");
  Statement count = db().prepare("SELECT COUNT(*) FROM telemetry_history");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int(0), 251);  // history keeps every reading, repeats included
}

TEST_F(StoreRepositories, HistoryAppendAndPruneInBatches) {
  std::vector<MetricValue> values;
  for (int i = 0; i < 10; ++i) values.push_back({1, "temperature", 20.0 + i, "C", at_ms(1000 * i)});
  values.push_back({1, "humidity", 50, "%", at_ms(500)});
  values.push_back({2, "temperature", 5, "C", at_ms(500)});
  append_history(db(), values);
  EXPECT_EQ(rows(db(), "SELECT COUNT(*) FROM telemetry_history"), 12);
  EXPECT_EQ(rows(db(), "SELECT COUNT(*) FROM telemetry_history WHERE device_id = 1 AND "
                       "metric = 'temperature' AND ts = 3000 AND value = 23"), 1);
  // 7 older than 5 s: 0..4 s of temperature, humidity, device 2.
  EXPECT_EQ(prune_history(db(), at_ms(5000), 4), 4u);
  EXPECT_EQ(prune_history(db(), at_ms(5000), 4), 3u);  // fewer than asked: done
  EXPECT_EQ(prune_history(db(), at_ms(5000), 4), 0u);
  EXPECT_EQ(prune_history(db(), at_ms(9000), 0), 0u);
  EXPECT_EQ(rows(db(), "SELECT COUNT(*) FROM telemetry_history"), 5);
  EXPECT_EQ(rows(db(), "SELECT MIN(ts) FROM telemetry_history"), 5000);
  EXPECT_EQ(rows(db(), "SELECT COUNT(*) FROM telemetry_history WHERE device_id = 2"), 0);
}

TEST_F(StoreRepositories, HundredThousandMetricUpsertsInsertThenUpdateEveryRow) {
  // Bulk upserts as the writer issues them, inside a caller's transaction and without one. How
  // fast they are is measured by the ingest benchmarks (docs/benchmarks.md), never timed here: a
  // sanitizer build on a shared machine takes many times longer. SQLite only: PostgreSQL pays a
  // round trip per row, and its upserts are the same statements tested above.
  SKIP_UNLESS_SQLITE();
  std::vector<MetricValue> values;
  values.reserve(100'000);
  for (int d = 1; d <= 1000; ++d)
    for (int m = 0; m < 100; ++m)
      values.push_back({d, "metric_" + std::to_string(m), d + m * 0.5, "u", at_ms(1000)});
  {
    Transaction tx(db());
    upsert_latest_metrics(db(), values);
    tx.commit();
  }
  for (auto& v : values) {
    v.value += 1;
    v.timestamp = at_ms(2000);
  }
  upsert_latest_metrics(db(), values);  // no caller transaction: one of its own
  auto all = load_latest_metrics(db());
  ASSERT_EQ(all.size(), 100'000u);
  EXPECT_DOUBLE_EQ(all[0].value, 2);  // device 1, metric_0: 1 + 0 + 1
  for (const auto& m : all) ASSERT_EQ(m.timestamp, at_ms(2000)) << m.device_id << " " << m.metric;
  EXPECT_EQ(all.back().device_id, 1000);
  EXPECT_DOUBLE_EQ(all.back().value, 1000 + 99 * 0.5 + 1);  // metric_99 sorts last
}

}  // namespace
}  // namespace valtronics::store
