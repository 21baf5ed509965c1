// All reads and writes of the domain records. Every SQL statement of the project lives in
// store/sql.hpp; these functions bind and read them. Synchronous: the writer thread calls the
// writing ones inside its batched transactions, the engine thread calls the reading ones on its
// own connection. The domain's closed sets (statuses, severities, types) are stored as TEXT,
// their wire names (model/enums.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/alert.hpp"
#include "model/device.hpp"
#include "model/enums.hpp"
#include "model/reading.hpp"
#include "store/db.hpp"

namespace valtronics::store {

// ---- devices ----
std::vector<model::Device> load_devices(Database& db);  // ordered by id
std::optional<model::Device> get_device(Database& db, std::int64_t id);
// Inserts `d` (d.id == 0: the database assigns it; else that id is used). Returns the id.
std::int64_t insert_device(Database& db, const model::Device& d);
// Inserts `d` (d.id set) unless a device with its id exists: then nothing. A write that may
// race another node's (auto-registration, demo seeding) must not fail its whole batch.
void insert_device_if_absent(Database& db, const model::Device& d);
void update_device(Database& db, const model::Device& d);  // every column by id
bool delete_device(Database& db, std::int64_t id);         // false if absent
void update_device_status(Database& db, std::int64_t id, model::DeviceStatus status,
                          std::optional<util::TimePoint> last_seen, util::TimePoint updated_at);
void update_device_last_seen(Database& db, std::int64_t id, util::TimePoint last_seen);
void insert_status_change(Database& db, const model::StatusChange& c);
// (cluster) Inside a transaction: nodes choosing a new device id (the largest + 1) take turns
// until it commits. Nothing on SQLite, which one process owns.
void lock_device_ids(Database& db);

// ---- alert rules ----
std::vector<model::AlertRule> load_rules(Database& db);  // ordered by id
std::int64_t insert_rule(Database& db, const model::AlertRule& r);
void update_rule(Database& db, const model::AlertRule& r);
bool delete_rule(Database& db, std::int64_t id);

// ---- alerts ----
// Inserts and returns the new id (AUTOINCREMENT: strictly increasing, never reused).
std::int64_t insert_alert(Database& db, const model::Alert& a);
// Writes status, acknowledged_at/_by, resolved_at/_by, notes of `a` by id.
void update_alert_state(Database& db, const model::Alert& a);
std::optional<model::Alert> get_alert(Database& db, std::int64_t id);

struct AlertQuery {
  std::vector<model::AlertStatus> statuses;   // empty: any
  std::vector<model::Severity> severities;    // empty: any
  std::vector<model::AlertType> alert_types;  // empty: any
  std::vector<std::int64_t> device_ids;       // empty: any
  std::optional<std::int64_t> since_id;       // id > since_id
  std::size_t limit = 100;
  std::size_t offset = 0;
};
std::vector<model::Alert> list_alerts(Database& db, const AlertQuery& q);  // ordered by id asc
std::int64_t count_alerts(Database& db, const AlertQuery& q);  // ignores limit/offset
std::int64_t max_alert_id(Database& db);                       // 0 when none
std::int64_t min_alert_id(Database& db);                       // 0 when none
std::vector<model::Alert> load_open_alerts(Database& db);  // active or acknowledged
// (cluster) When each (rule, device) last raised an alert: its cooldown, for a node taking the
// device over.
struct RuleFired {
  std::int64_t rule_id = 0, device_id = 0;
  util::TimePoint at;
};
std::vector<RuleFired> last_rule_alerts(Database& db);
// Duration windows in progress (schema version 4; engine/rules.hpp, WindowChange): saved when
// one opens, deleted when it ends, all read when the engine starts or adopts a partition.
struct RuleWindow {
  std::int64_t rule_id = 0, device_id = 0;
  util::TimePoint since;
  double value = 0;
};
void save_rule_window(Database& db, const RuleWindow& w);
void delete_rule_window(Database& db, std::int64_t rule_id, std::int64_t device_id);
std::vector<RuleWindow> load_rule_windows(Database& db);
// Alert retention, one batch: deletes at most `max_rows` resolved alerts resolved before
// `before` (resolved_at; ts for a resolved row without one), the longest-resolved first, and
// raises max_pruned_alert_id to the largest id deleted. Active and acknowledged alerts are never
// deleted. Returns how many were deleted: fewer than `max_rows` means none is left to prune.
std::size_t prune_resolved_alerts(Database& db, util::TimePoint before, std::size_t max_rows);
// The largest id retention ever deleted (0: none). A replay of the alerts after since_id is
// complete only if since_id >= this.
std::int64_t max_pruned_alert_id(Database& db);

// ---- metrics ----
void upsert_latest_metrics(Database& db, std::span<const model::MetricValue> values);
std::vector<model::MetricValue> load_latest_metrics(Database& db);
std::vector<model::MetricValue> load_latest_metrics(Database& db, std::int64_t device_id);
void append_history(Database& db, std::span<const model::MetricValue> values);
// Telemetry retention, one batch: deletes at most `max_rows` readings older than `before`.
// Returns how many were deleted: fewer than `max_rows` means none is left to prune.
std::size_t prune_history(Database& db, util::TimePoint before, std::size_t max_rows);
// The same for the per-minute rollups (issue 14): at most `max_rows` minutes whose readings are
// all older than `before` (the minute ended by then). Run after prune_history in each pass.
std::size_t prune_history_minutes(Database& db, util::TimePoint before, std::size_t max_rows);

// ---- telemetry history reads (issue 14; run by store::Reader's threads) ----
// Times as milliseconds since the epoch (UTC); ranges are [start, end).
bool device_exists(Database& db, std::int64_t id);
struct HistoryFilter {
  std::vector<std::int64_t> device_ids{};  // empty: every device
  std::optional<std::string> metric{};     // unset: every metric
  std::optional<std::int64_t> start_ms{};  // ts >= start_ms
  std::optional<std::int64_t> end_ms{};    // ts < end_ms
};
// Raw readings (unit empty), ordered by ts (newest or oldest first), then device, metric and
// value: a complete order, so pages never overlap.
std::vector<model::MetricValue> list_history(Database& db, const HistoryFilter& f,
                                             bool newest_first, std::size_t limit,
                                             std::size_t offset);
std::int64_t count_history(Database& db, const HistoryFilter& f);
// Where an export stands: the series it reads (device, metric) and how far into it. Starts
// before the first series; `done` once every series of the filter was read.
struct ExportCursor {
  bool started = false, done = false;
  std::int64_t device_id = 0;
  std::string metric;
  std::int64_t from_ms = 0;  // the series' next rows have ts >= from_ms ...
  std::size_t skip = 0;      // ... after the first `skip` rows of ts == from_ms (sent already)
};
// The next readings of an export (unit empty), at most `limit` (fewer only at the end): by
// device, then metric, then ts (then value), each series an index range of (device_id, metric,
// ts), so a piece costs the same at the end of a large export as at its start.
std::vector<model::MetricValue> export_history(Database& db, const HistoryFilter& f,
                                               ExportCursor& cursor, std::size_t limit);
// One series folded into buckets of `interval_ms` aligned to the epoch, ascending, empty ones
// left out: whole minutes from the rollups (telemetry_minutes), the partial minutes at the
// range's edges from the raw readings, so each bucket folds exactly its readings in [start, end).
struct HistoryBucket {
  std::int64_t start_ms = 0;
  std::int64_t count = 0;
  double sum = 0, min = 0, max = 0;
};
std::vector<HistoryBucket> history_buckets(Database& db, std::int64_t device_id,
                                           const std::string& metric, std::int64_t start_ms,
                                           std::int64_t end_ms, std::int64_t interval_ms);

}  // namespace valtronics::store
