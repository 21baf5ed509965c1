// Reads and writes of the domain records (see repositories.hpp). The SQL is in store/sql.hpp;
// this file binds parameters and reads columns. Times are stored as INTEGER milliseconds since
// the Unix epoch; JSON columns as serialized objects (a corrupt cell loads as an empty object);
// enums as their names (model/enums.hpp), the same TEXT the columns always held.
#include "store/repositories.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "store/sql.hpp"
#include "util/epoch_ms.hpp"

namespace valtronics::store {

namespace {

using model::Alert;
using model::AlertRule;
using model::Condition;
using model::Device;
using model::MetricValue;
using model::StatusChange;

std::int64_t to_ms(util::TimePoint t) { return util::to_epoch_ms(t); }
util::TimePoint from_ms(std::int64_t ms) { return util::from_epoch_ms(ms); }

std::optional<std::int64_t> to_ms(const std::optional<util::TimePoint>& t) {
  if (!t) return std::nullopt;
  return to_ms(*t);
}

std::optional<util::TimePoint> opt_time(const Statement& st, int col) {
  if (st.is_null(col)) return std::nullopt;
  return from_ms(st.column_int(col));
}

std::string json_text(const boost::json::object& o) { return boost::json::serialize(o); }

// Never throws: NULL, corrupt JSON, or JSON that is not an object all load as {}.
boost::json::object json_object(const Statement& st, int col) {
  if (st.is_null(col)) return {};
  try {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(st.column_text(col), ec);
    if (ec || !v.is_object()) return {};
    return std::move(v.as_object());
  } catch (const std::exception&) {
    return {};
  }
}

// A TEXT column holding a name of E. This server writes only names from E's table, so another
// text was written by hand or by another version: loading is refused with a StoreError naming
// the row, rather than skipping the row (lists and counts would disagree) or guessing a value.
// (Exception: an unknown rule condition loads the rule disabled, see read_rule.)
template <class E>
E enum_column(const Statement& st, int col, std::string_view row, std::string_view column) {
  const std::string text = st.column_text(col);
  if (auto e = model::from_string<E>(text)) return *e;
  throw StoreError(std::string(row) + ": unknown " + std::string(column) + " '" + text +
                   "' in the database (expected one of " + model::names_list<E>() + ")");
}

std::string row_name(std::string_view table, std::int64_t id) {
  return std::string(table) + " row " + std::to_string(id);
}

// Runs `f` atomically: inside the caller's transaction if one is open (the writer's batch),
// else in a transaction of its own (one commit for many rows instead of one per row).
template <class F>
auto atomically(Database& db, F&& f) {
  if (db.in_transaction()) return f();
  Transaction tx(db);
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    tx.commit();
  } else {
    auto result = f();
    tx.commit();
    return result;
  }
}

// ---- row readers (column order of the SELECTs in sql.hpp) ----

Device read_device(const Statement& st) {
  Device d;
  d.id = st.column_int(0);
  const std::string row = row_name("devices", d.id);
  d.name = st.column_text(1);
  d.device_type = enum_column<model::DeviceType>(st, 2, row, "device_type");
  d.location = st.column_text(3);
  d.manufacturer = st.column_text(4);
  d.model = st.column_text(5);
  d.firmware_version = st.column_text(6);
  d.metadata = json_object(st, 7);
  d.status = enum_column<model::DeviceStatus>(st, 8, row, "status");
  d.last_seen = opt_time(st, 9);
  d.created_at = from_ms(st.column_int(10));
  d.updated_at = from_ms(st.column_int(11));
  return d;
}

void bind_device(Statement& st, const Device& d) {
  st.bind(2, d.name)
      .bind(3, model::to_string(d.device_type))
      .bind(4, d.location)
      .bind(5, d.manufacturer)
      .bind(6, d.model)
      .bind(7, d.firmware_version)
      .bind(8, json_text(d.metadata))
      .bind(9, model::to_string(d.status))
      .bind(10, to_ms(d.last_seen))
      .bind(11, to_ms(d.created_at))
      .bind(12, to_ms(d.updated_at));
}

AlertRule read_rule(const Statement& st) {
  AlertRule r;
  r.id = st.column_int(0);
  r.name = st.column_text(1);
  r.device_id = st.column_opt_int(2);
  const std::string row = row_name("alert_rules", r.id);
  if (!st.is_null(3)) r.device_type = enum_column<model::DeviceType>(st, 3, row, "device_type");
  r.metric = st.column_text(4);
  std::string cond = st.column_text(5);
  if (auto c = model::from_string<Condition>(cond)) {
    r.condition = *c;
  } else {
    spdlog::warn("alert rule {}: unknown condition '{}' in the database; rule disabled", r.id,
                 cond);
    r.enabled = false;
  }
  r.threshold = st.column_double(6);
  r.severity = enum_column<model::Severity>(st, 7, row, "severity");
  r.alert_type = enum_column<model::AlertType>(st, 8, row, "alert_type");
  r.duration = std::chrono::milliseconds{st.column_int(9)};
  r.cooldown = std::chrono::milliseconds{st.column_int(10)};
  if (r.enabled) r.enabled = st.column_int(11) != 0;
  r.created_at = from_ms(st.column_int(12));
  r.updated_at = from_ms(st.column_int(13));
  return r;
}

void bind_rule(Statement& st, const AlertRule& r) {
  st.bind(2, r.name).bind(3, r.device_id);
  if (r.device_type)
    st.bind(4, model::to_string(*r.device_type));
  else
    st.bind(4, std::nullopt);
  st.bind(5, r.metric)
      .bind(6, model::to_string(r.condition))
      .bind(7, r.threshold)
      .bind(8, model::to_string(r.severity))
      .bind(9, model::to_string(r.alert_type))
      .bind(10, static_cast<std::int64_t>(r.duration.count()))
      .bind(11, static_cast<std::int64_t>(r.cooldown.count()))
      .bind(12, r.enabled ? 1 : 0)
      .bind(13, to_ms(r.created_at))
      .bind(14, to_ms(r.updated_at));
}

Alert read_alert(const Statement& st) {
  Alert a;
  a.id = st.column_int(0);
  const std::string row = row_name("alerts", a.id);
  a.device_id = st.column_int(1);
  a.severity = enum_column<model::Severity>(st, 2, row, "severity");
  a.alert_type = enum_column<model::AlertType>(st, 3, row, "alert_type");
  a.title = st.column_text(4);
  a.message = st.column_text(5);
  a.status = enum_column<model::AlertStatus>(st, 6, row, "status");
  a.timestamp = from_ms(st.column_int(7));
  a.metadata = json_object(st, 8);
  a.rule_id = st.column_opt_int(9);
  a.acknowledged_at = opt_time(st, 10);
  a.acknowledged_by = st.column_text(11);
  a.resolved_at = opt_time(st, 12);
  a.resolved_by = st.column_text(13);
  a.notes = st.column_text(14);
  return a;
}

MetricValue read_metric(const Statement& st) {
  MetricValue m;
  m.device_id = st.column_int(0);
  m.metric = st.column_text(1);
  m.value = st.column_double(2);
  m.unit = st.column_text(3);
  m.timestamp = from_ms(st.column_int(4));
  return m;
}

std::int64_t single_int(Database& db, const char* sql) {
  Statement st = db.prepare(sql);
  return st.step() ? st.column_int(0) : 0;
}

std::int64_t to_i64(std::size_t n) {
  return n > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(n);
}

// WHERE clause of an AlertQuery with its parameters bound in order (IN lists as placeholders).
struct AlertFilter {
  std::string where;
  std::vector<std::string> texts;  // text parameters, in placeholder order
  std::vector<std::int64_t> ints;  // integer parameters, in placeholder order
  std::vector<bool> is_text;       // per placeholder: which of the two lists it takes from
};

AlertFilter build_filter(const AlertQuery& q) {
  AlertFilter f;
  bool first = true;
  auto begin_condition = [&] {
    f.where += first ? sql::kWhere : sql::kAnd;
    first = false;
  };
  auto names_in = [&](const char* head, const auto& values) {
    if (values.empty()) return;
    begin_condition();
    f.where += head;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) f.where += sql::kListSeparator;
      f.where += sql::kPlaceholder;
      f.texts.emplace_back(model::to_string(values[i]));
      f.is_text.push_back(true);
    }
    f.where += sql::kListEnd;
  };
  names_in(sql::kAlertStatusIn, q.statuses);
  names_in(sql::kAlertSeverityIn, q.severities);
  names_in(sql::kAlertTypeIn, q.alert_types);
  if (!q.device_ids.empty()) {
    begin_condition();
    f.where += sql::kAlertDeviceIdIn;
    for (std::size_t i = 0; i < q.device_ids.size(); ++i) {
      if (i) f.where += sql::kListSeparator;
      f.where += sql::kPlaceholder;
      f.ints.push_back(q.device_ids[i]);
      f.is_text.push_back(false);
    }
    f.where += sql::kListEnd;
  }
  if (q.since_id) {
    begin_condition();
    f.where += sql::kAlertIdAfter;
    f.ints.push_back(*q.since_id);
    f.is_text.push_back(false);
  }
  return f;
}

// Binds the filter's parameters from 1; returns the next free index.
int bind_filter(Statement& st, const AlertFilter& f) {
  std::size_t t = 0, n = 0;
  int index = 1;
  for (bool text : f.is_text) {
    if (text)
      st.bind(index++, f.texts[t++]);
    else
      st.bind(index++, f.ints[n++]);
  }
  return index;
}

}  // namespace

// ---- devices ----

std::vector<Device> load_devices(Database& db) {
  std::vector<Device> out;
  Statement st = db.prepare(sql::kSelectDevices);
  while (st.step()) out.push_back(read_device(st));
  return out;
}

std::optional<Device> get_device(Database& db, std::int64_t id) {
  Statement& st = db.cached(sql::kSelectDeviceById);
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_device(st);
}

namespace {

// The id a RETURNING id statement gave.
std::int64_t returned_id(Statement& st, const char* what) {
  if (!st.step()) throw StoreError(std::string(what) + ": the database returned no id");
  const std::int64_t id = st.column_int(0);
  st.run();  // to the end of the statement
  return id;
}

// The constant of the connection's dialect, for the few statements that differ.
const char* of(const Database& db, const char* sqlite, const char* postgres) {
  return db.dialect() == Dialect::postgresql ? postgres : sqlite;
}

}  // namespace

std::int64_t insert_device(Database& db, const Device& d) {
  Statement& st = db.cached(of(db, sql::kInsertDevice, sql::pg::kInsertDevice));
  if (d.id != 0)
    st.bind(1, d.id);
  else
    st.bind(1, std::nullopt);
  bind_device(st, d);
  return returned_id(st, "insert device");
}

void insert_device_if_absent(Database& db, const Device& d) {
  Statement& st = db.cached(sql::kInsertDeviceIfAbsent);
  st.bind(1, d.id);
  bind_device(st, d);
  st.run();
}

void update_device(Database& db, const Device& d) {
  Statement& st = db.cached(sql::kUpdateDevice);
  st.bind(1, d.id);
  bind_device(st, d);
  st.run();
}

bool delete_device(Database& db, std::int64_t id) {
  return atomically(db, [&] {
    Statement st = db.prepare(sql::kDeleteDevice);
    st.bind(1, id).run();
    bool found = db.changes() > 0;
    for (const char* text : {sql::kDeleteDeviceLatestMetrics, sql::kDeleteDeviceStatusChanges,
                             sql::kDeleteDeviceHistory, sql::kDeleteDeviceMinutes,
                             sql::kDeleteDeviceRuleWindows}) {
      Statement del = db.prepare(text);
      del.bind(1, id).run();
    }
    return found;
  });
}

void update_device_status(Database& db, std::int64_t id, model::DeviceStatus status,
                          std::optional<util::TimePoint> last_seen, util::TimePoint updated_at) {
  Statement& st = db.cached(sql::kUpdateDeviceStatus);
  st.bind(1, id).bind(2, model::to_string(status)).bind(3, to_ms(last_seen)).bind(4, to_ms(updated_at)).run();
}

void update_device_last_seen(Database& db, std::int64_t id, util::TimePoint last_seen) {
  Statement& st = db.cached(sql::kUpdateDeviceLastSeen);
  st.bind(1, id).bind(2, to_ms(last_seen)).run();
}

void insert_status_change(Database& db, const StatusChange& c) {
  Statement& st = db.cached(sql::kInsertStatusChange);
  st.bind(1, c.device_id)
      .bind(2, model::to_string(c.old_status))
      .bind(3, model::to_string(c.new_status))
      .bind(4, c.reason)
      .bind(5, to_ms(c.timestamp))
      .run();
}

// ---- alert rules ----

std::vector<AlertRule> load_rules(Database& db) {
  std::vector<AlertRule> out;
  Statement st = db.prepare(sql::kSelectRules);
  while (st.step()) out.push_back(read_rule(st));
  return out;
}

std::int64_t insert_rule(Database& db, const AlertRule& r) {
  Statement& st = db.cached(of(db, sql::kInsertRule, sql::pg::kInsertRule));
  if (r.id != 0)
    st.bind(1, r.id);
  else
    st.bind(1, std::nullopt);
  bind_rule(st, r);
  return returned_id(st, "insert rule");
}

void update_rule(Database& db, const AlertRule& r) {
  Statement& st = db.cached(sql::kUpdateRule);
  st.bind(1, r.id);
  bind_rule(st, r);
  st.run();
}

bool delete_rule(Database& db, std::int64_t id) {
  Statement st = db.prepare(sql::kDeleteRule);
  st.bind(1, id).run();
  return db.changes() > 0;
}

// ---- alerts ----

std::int64_t insert_alert(Database& db, const Alert& a) {
  if (db.dialect() == Dialect::postgresql) db.exec(sql::pg::kAlertOrderLock);
  Statement& st = db.cached(sql::kInsertAlert);
  st.bind(1, a.device_id)
      .bind(2, model::to_string(a.severity))
      .bind(3, model::to_string(a.alert_type))
      .bind(4, a.title)
      .bind(5, a.message)
      .bind(6, model::to_string(a.status))
      .bind(7, to_ms(a.timestamp))
      .bind(8, json_text(a.metadata))
      .bind(9, a.rule_id)
      .bind(10, to_ms(a.acknowledged_at))
      .bind(11, a.acknowledged_by)
      .bind(12, to_ms(a.resolved_at))
      .bind(13, a.resolved_by)
      .bind(14, a.notes);
  return returned_id(st, "insert alert");
}

void update_alert_state(Database& db, const Alert& a) {
  Statement& st = db.cached(sql::kUpdateAlertState);
  st.bind(1, a.id)
      .bind(2, model::to_string(a.status))
      .bind(3, to_ms(a.acknowledged_at))
      .bind(4, a.acknowledged_by)
      .bind(5, to_ms(a.resolved_at))
      .bind(6, a.resolved_by)
      .bind(7, a.notes)
      .run();
}

std::optional<Alert> get_alert(Database& db, std::int64_t id) {
  Statement st = db.prepare(sql::kSelectAlertById);
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return read_alert(st);
}

std::vector<Alert> list_alerts(Database& db, const AlertQuery& q) {
  AlertFilter f = build_filter(q);
  std::string text = sql::kSelectAlertsHead;
  text += f.where;
  text += sql::kAlertsOrderLimitOffset;
  Statement st = db.prepare(text);
  int next = bind_filter(st, f);
  st.bind(next, to_i64(q.limit)).bind(next + 1, to_i64(q.offset));
  std::vector<Alert> out;
  while (st.step()) out.push_back(read_alert(st));
  return out;
}

std::int64_t count_alerts(Database& db, const AlertQuery& q) {
  AlertFilter f = build_filter(q);
  std::string text = sql::kCountAlertsHead;
  text += f.where;
  Statement st = db.prepare(text);
  bind_filter(st, f);
  return st.step() ? st.column_int(0) : 0;
}

std::int64_t max_alert_id(Database& db) { return single_int(db, sql::kMaxAlertId); }

std::int64_t min_alert_id(Database& db) { return single_int(db, sql::kMinAlertId); }

std::vector<RuleFired> last_rule_alerts(Database& db) {
  std::vector<RuleFired> out;
  Statement st = db.prepare(sql::kSelectLastRuleAlerts);
  while (st.step())
    out.push_back({st.column_int(0), st.column_int(1), from_ms(st.column_int(2))});
  return out;
}

void save_rule_window(Database& db, const RuleWindow& w) {
  Statement& st = db.cached(sql::kUpsertRuleWindow);
  st.bind(1, w.rule_id).bind(2, w.device_id).bind(3, to_ms(w.since)).bind(4, w.value).run();
  st.reset();
}

void delete_rule_window(Database& db, std::int64_t rule_id, std::int64_t device_id) {
  Statement& st = db.cached(sql::kDeleteRuleWindow);
  st.bind(1, rule_id).bind(2, device_id).run();
  st.reset();
}

std::vector<RuleWindow> load_rule_windows(Database& db) {
  std::vector<RuleWindow> out;
  Statement st = db.prepare(sql::kSelectRuleWindows);
  while (st.step())
    out.push_back({st.column_int(0), st.column_int(1), from_ms(st.column_int(2)),
                   st.column_double(3)});
  return out;
}

void lock_device_ids(Database& db) {
  if (db.dialect() == Dialect::postgresql) db.exec(sql::pg::kDeviceIdLock);
}

std::vector<Alert> load_open_alerts(Database& db) {
  std::vector<Alert> out;
  Statement st = db.prepare(sql::kSelectOpenAlerts);
  while (st.step()) out.push_back(read_alert(st));
  return out;
}

std::size_t prune_resolved_alerts(Database& db, util::TimePoint before, std::size_t max_rows) {
  if (max_rows == 0) return 0;
  return atomically(db, [&] {
    std::vector<std::int64_t> ids;
    {
      Statement& st = db.cached(sql::kSelectPrunableAlerts);
      st.bind(1, to_ms(before)).bind(2, to_i64(max_rows));
      while (st.step()) ids.push_back(st.column_int(0));
      st.reset();
    }
    if (ids.empty()) return std::size_t{0};
    std::int64_t largest = 0;
    for (std::int64_t id : ids) {
      Statement& del = db.cached(sql::kDeleteAlert);
      del.bind(1, id).run();
      largest = std::max(largest, id);
    }
    Statement& mark = db.cached(sql::kRaisePrunedAlertId);
    mark.bind(1, largest).run();
    return ids.size();
  });
}

std::int64_t max_pruned_alert_id(Database& db) { return single_int(db, sql::kMaxPrunedAlertId); }

// ---- metrics ----

namespace {

// Rows per multi-row statement: few round trips, and far below SQLite's 32 766 parameters.
constexpr std::size_t kRowsPerStatement = 100;

// The text of a multi-row statement of `rows` rows, built once per shape and kept for the
// process's life: Database::cached() keys its prepared statements on the text's address.
const char* multi_row_sql(const char* head, const char* row, const char* tail, std::size_t rows) {
  static std::mutex mu;
  static std::map<std::tuple<const char*, std::size_t>, std::string> texts;
  std::lock_guard lock(mu);
  auto& text = texts[{head, rows}];
  if (text.empty()) {
    text = head;
    for (std::size_t i = 0; i < rows; ++i) {
      if (i) text += sql::kListSeparator;
      text += row;
    }
    text += tail;
  }
  return text.c_str();
}

// Runs `values` through the multi-row statement, kRowsPerStatement rows at a time; `bind`
// binds one value's columns from the given first parameter number.
template <class T, class Bind>
void write_rows(Database& db, std::span<const T> values, const char* head, const char* row,
                const char* tail, int columns, Bind bind) {
  for (std::size_t first = 0; first < values.size(); first += kRowsPerStatement) {
    const std::size_t n = std::min(kRowsPerStatement, values.size() - first);
    Statement& st = db.cached(multi_row_sql(head, row, tail, n));
    for (std::size_t i = 0; i < n; ++i) bind(st, static_cast<int>(i) * columns + 1, values[first + i]);
    st.run();
  }
}

}  // namespace

void upsert_latest_metrics(Database& db, std::span<const MetricValue> values) {
  if (values.empty()) return;
  // One row per (device, metric), the last value given: a statement may not upsert a key twice
  // (PostgreSQL refuses it), and the last one is what the row must hold.
  std::vector<MetricValue> rows;
  rows.reserve(values.size());
  std::map<std::pair<std::int64_t, std::string_view>, std::size_t> seen;
  for (const MetricValue& m : values) {
    auto [it, fresh] = seen.try_emplace({m.device_id, m.metric}, rows.size());
    if (fresh) rows.push_back(m);
    else rows[it->second] = m;
  }
  atomically(db, [&] {
    write_rows<MetricValue>(db, rows, sql::kUpsertLatestMetricsHead, sql::kLatestMetricRow,
               sql::kUpsertLatestMetricsTail, 5, [](Statement& st, int p, const MetricValue& m) {
                 st.bind(p, m.device_id)
                     .bind(p + 1, m.metric)
                     .bind(p + 2, m.value)
                     .bind(p + 3, m.unit)
                     .bind(p + 4, to_ms(m.timestamp));
               });
  });
}

std::vector<MetricValue> load_latest_metrics(Database& db) {
  std::vector<MetricValue> out;
  Statement st = db.prepare(sql::kSelectLatestMetrics);
  while (st.step()) out.push_back(read_metric(st));
  return out;
}

std::vector<MetricValue> load_latest_metrics(Database& db, std::int64_t device_id) {
  std::vector<MetricValue> out;
  Statement& st = db.cached(sql::kSelectLatestMetricsOfDevice);
  st.bind(1, device_id);
  while (st.step()) out.push_back(read_metric(st));
  return out;
}

namespace {

// One rollup row: the readings of a batch folded per (device, metric, minute).
struct MinuteFold {
  std::int64_t device_id = 0;
  std::string_view metric{};
  std::int64_t minute = 0;
  std::int64_t n = 0;
  double sum = 0, min = 0, max = 0;
};

// The start of the bucket of `width` ms holding `ms` (floor, also before the epoch).
std::int64_t bucket_floor(std::int64_t ms, std::int64_t width) {
  return ms - ((ms % width) + width) % width;
}

constexpr std::int64_t kMinuteMs = 60'000;

}  // namespace

void append_history(Database& db, std::span<const MetricValue> values) {
  if (values.empty()) return;
  // The batch folded per (device, metric, minute) in memory: a batch of one device's readings at
  // a high rate costs one rollup row per minute, not one per reading.
  std::vector<MinuteFold> folds;
  std::map<std::tuple<std::int64_t, std::string_view, std::int64_t>, std::size_t> index;
  for (const MetricValue& m : values) {
    const std::int64_t minute = bucket_floor(to_ms(m.timestamp), kMinuteMs);
    auto [it, fresh] = index.try_emplace({m.device_id, m.metric, minute}, folds.size());
    if (fresh) {
      folds.push_back({m.device_id, m.metric, minute, 1, m.value, m.value, m.value});
      continue;
    }
    MinuteFold& f = folds[it->second];
    ++f.n;
    f.sum += m.value;
    f.min = std::min(f.min, m.value);
    f.max = std::max(f.max, m.value);
  }
  atomically(db, [&] {
    write_rows<MetricValue>(db, values, sql::kInsertHistoryHead, sql::kHistoryRow, "", 4,
                            [](Statement& st, int p, const MetricValue& m) {
                              st.bind(p, m.device_id)
                                  .bind(p + 1, m.metric)
                                  .bind(p + 2, m.value)
                                  .bind(p + 3, to_ms(m.timestamp));
                            });
    write_rows<MinuteFold>(db, folds, sql::kUpsertMinutesHead, sql::kMinuteRow,
                           of(db, sql::kUpsertMinutesTail, sql::pg::kUpsertMinutesTail), 7,
                           [](Statement& st, int p, const MinuteFold& f) {
                             st.bind(p, f.device_id)
                                 .bind(p + 1, f.metric)
                                 .bind(p + 2, f.minute)
                                 .bind(p + 3, f.n)
                                 .bind(p + 4, f.sum)
                                 .bind(p + 5, f.min)
                                 .bind(p + 6, f.max);
                           });
  });
}

std::size_t prune_history(Database& db, util::TimePoint before, std::size_t max_rows) {
  if (max_rows == 0) return 0;
  Statement& st = db.cached(of(db, sql::kPruneHistory, sql::pg::kPruneHistory));
  st.bind(1, to_ms(before)).bind(2, to_i64(max_rows)).run();
  return static_cast<std::size_t>(db.changes());
}

std::size_t prune_history_minutes(Database& db, util::TimePoint before, std::size_t max_rows) {
  if (max_rows == 0) return 0;
  Statement& st = db.cached(sql::kPruneMinutes);
  st.bind(1, to_ms(before) - kMinuteMs).bind(2, to_i64(max_rows)).run();
  return static_cast<std::size_t>(db.changes());
}

// ---- telemetry history reads ----

bool device_exists(Database& db, std::int64_t id) {
  Statement& st = db.cached(sql::kDeviceExists);
  st.bind(1, id);
  const bool found = st.step() && st.column_int(0) > 0;
  st.reset();
  return found;
}

namespace {

// The WHERE clause of a HistoryFilter, and its parameters bound from `first`.
std::string history_where(const HistoryFilter& f) {
  std::string where;
  auto add = [&](std::string_view condition) {
    where += where.empty() ? sql::kWhere : sql::kAnd;
    where += condition;
  };
  if (!f.device_ids.empty()) {
    std::string in = sql::kHistoryDeviceIdIn;
    for (std::size_t i = 0; i < f.device_ids.size(); ++i) {
      if (i) in += sql::kListSeparator;
      in += sql::kPlaceholder;
    }
    in += sql::kListEnd;
    add(in);
  }
  if (f.metric) add(sql::kHistoryMetricIs);
  if (f.start_ms) add(sql::kHistoryTsFrom);
  if (f.end_ms) add(sql::kHistoryTsBefore);
  return where;
}

int bind_history_filter(Statement& st, const HistoryFilter& f) {
  int p = 1;
  for (std::int64_t id : f.device_ids) st.bind(p++, id);
  if (f.metric) st.bind(p++, *f.metric);
  if (f.start_ms) st.bind(p++, *f.start_ms);
  if (f.end_ms) st.bind(p++, *f.end_ms);
  return p;
}

}  // namespace

std::vector<MetricValue> list_history(Database& db, const HistoryFilter& f, bool newest_first,
                                      std::size_t limit, std::size_t offset) {
  std::vector<MetricValue> out;
  if (limit == 0) return out;
  const std::string text =
      std::string(sql::kSelectHistoryHead) + history_where(f) +
      (newest_first ? sql::kHistoryNewestFirst : sql::kHistoryOldestFirst);
  Statement st = db.prepare(text);
  int p = bind_history_filter(st, f);
  st.bind(p, to_i64(limit)).bind(p + 1, to_i64(offset));
  out.reserve(std::min<std::size_t>(limit, 4096));
  while (st.step()) {
    MetricValue m;
    m.device_id = st.column_int(0);
    m.metric = st.column_text(1);
    m.value = st.column_double(2);
    m.timestamp = from_ms(st.column_int(3));
    out.push_back(std::move(m));
  }
  return out;
}

std::int64_t count_history(Database& db, const HistoryFilter& f) {
  Statement st = db.prepare(std::string(sql::kCountHistoryHead) + history_where(f));
  bind_history_filter(st, f);
  return st.step() ? st.column_int(0) : 0;
}

namespace {

// The series after the cursor's (the first when it has none), within the filter; false when
// there is none left. A device filter is walked in id order, otherwise the devices with any
// history; with metric_name each device has that one series (empty where it never reported it).
bool next_series(Database& db, const HistoryFilter& f, ExportCursor& c) {
  auto next_device = [&](std::optional<std::int64_t> after) -> std::optional<std::int64_t> {
    if (!f.device_ids.empty()) {
      std::optional<std::int64_t> best;
      for (std::int64_t id : f.device_ids)
        if ((!after || id > *after) && (!best || id < *best)) best = id;
      return best;
    }
    Statement& st = db.cached(sql::kHistoryNextDevice);
    st.bind(1, after.value_or(std::numeric_limits<std::int64_t>::min()));
    std::optional<std::int64_t> id;
    if (st.step()) id = st.column_int(0);
    st.reset();
    return id;
  };
  auto next_metric = [&](std::int64_t device, const std::string& after) {
    Statement& st = db.cached(sql::kHistoryNextMetric);
    st.bind(1, device).bind(2, after);
    std::optional<std::string> metric;
    if (st.step()) metric = st.column_text(0);
    st.reset();
    return metric;
  };
  std::optional<std::int64_t> device;
  if (c.started) device = c.device_id;
  if (c.started && !f.metric) {
    // Metric names are never empty, so '' is before every one.
    if (auto m = next_metric(c.device_id, c.metric)) return c.metric = *m, true;
  }
  for (device = next_device(device); device; device = next_device(device)) {
    c.started = true;
    c.device_id = *device;
    if (f.metric) return c.metric = *f.metric, true;
    if (auto m = next_metric(*device, "")) return c.metric = *m, true;
  }
  return false;
}

}  // namespace

std::vector<MetricValue> export_history(Database& db, const HistoryFilter& f, ExportCursor& c,
                                        std::size_t limit) {
  std::vector<MetricValue> out;
  const std::int64_t start = f.start_ms.value_or(std::numeric_limits<std::int64_t>::min());
  const std::int64_t end = f.end_ms.value_or(std::numeric_limits<std::int64_t>::max());
  if (!c.started && !c.done) {
    if (!next_series(db, f, c)) c.done = true;
    c.from_ms = start;
    c.skip = 0;
  }
  while (!c.done && out.size() < limit) {
    const std::size_t want = limit - out.size();
    std::size_t got = 0;
    Statement& st = db.cached(sql::kExportSeriesRange);
    st.bind(1, c.device_id).bind(2, c.metric).bind(3, c.from_ms).bind(4, end);
    st.bind(5, to_i64(want)).bind(6, to_i64(c.skip));
    while (st.step()) {
      const std::int64_t ts = st.column_int(1);
      if (ts == c.from_ms) {
        ++c.skip;
      } else {
        c.from_ms = ts;
        c.skip = 1;
      }
      out.push_back(MetricValue{c.device_id, c.metric, st.column_double(0), "", from_ms(ts)});
      ++got;
    }
    st.reset();
    if (got < want) {  // this series is read to its end
      if (!next_series(db, f, c)) c.done = true;
      c.from_ms = start;
      c.skip = 0;
    }
  }
  return out;
}

std::vector<HistoryBucket> history_buckets(Database& db, std::int64_t device_id,
                                           const std::string& metric, std::int64_t start_ms,
                                           std::int64_t end_ms, std::int64_t interval_ms) {
  std::map<std::int64_t, HistoryBucket> buckets;
  if (start_ms >= end_ms || interval_ms <= 0) return {};
  auto fold = [&](const char* text, std::int64_t from, std::int64_t to) {
    if (from >= to) return;
    Statement& st = db.cached(text);
    st.bind(1, device_id).bind(2, metric).bind(3, from).bind(4, to).bind(5, interval_ms);
    while (st.step()) {
      const std::int64_t at = st.column_int(0);
      const std::int64_t n = st.column_int(1);
      const double sum = st.column_double(2), lo = st.column_double(3), hi = st.column_double(4);
      auto [it, fresh] = buckets.try_emplace(at, HistoryBucket{at, n, sum, lo, hi});
      if (fresh) continue;
      HistoryBucket& b = it->second;
      b.count += n;
      b.sum += sum;
      b.min = std::min(b.min, lo);
      b.max = std::max(b.max, hi);
    }
    st.reset();
  };
  // Whole minutes inside [start, end) from the rollups; the partial minutes at either edge
  // from the raw readings, so that every point folds exactly the readings in [start, end).
  const std::int64_t first_whole = bucket_floor(start_ms + kMinuteMs - 1, kMinuteMs);
  const std::int64_t end_whole = bucket_floor(end_ms, kMinuteMs);
  if (first_whole >= end_whole) {
    fold(sql::kSelectRawBuckets, start_ms, end_ms);
  } else {
    fold(sql::kSelectRawBuckets, start_ms, first_whole);
    fold(sql::kSelectMinuteBuckets, first_whole, end_whole);
    fold(sql::kSelectRawBuckets, end_whole, end_ms);
  }
  std::vector<HistoryBucket> out;
  out.reserve(buckets.size());
  for (auto& [at, b] : buckets) out.push_back(b);
  return out;
}

}  // namespace valtronics::store
