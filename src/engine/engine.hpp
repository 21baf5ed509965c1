// The domain engine: devices and their status, latest metric values, alert rules and alerts.
// It runs on its own thread (one io_context), so its state needs no lock and readings of a
// device are evaluated in arrival order. It publishes events to the hub and persists through the
// store's writer thread; an alert is published only once the transaction holding it committed.
// Every public function is thread-safe: it posts to the engine thread and calls `reply` there
// (callers post the result back to their own thread). Refusals are model::DomainError values
// (model/errors.hpp); the engine knows no transport.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "auth/claims.hpp"
#include "config/limits.hpp"
#include "config/config.hpp"
#include "engine/device_status.hpp"
#include "engine/rules.hpp"
#include "hub/hub.hpp"
#include "model/alert.hpp"
#include "model/device.hpp"
#include "model/enums.hpp"
#include "model/errors.hpp"
#include "model/events.hpp"
#include "model/reading.hpp"
#include "protocol/messages.hpp"
#include "store/db.hpp"
#include "store/repositories.hpp"
#include "store/writer.hpp"

namespace valtronics::engine {

template <class T>
using Reply = std::function<void(T)>;

struct DeviceQuery {
  std::optional<model::DeviceStatus> status;
  std::optional<model::DeviceType> device_type;
  std::size_t page = 1, size = 20;
};
template <class T>
struct Page {
  std::vector<T> items;
  std::size_t total = 0;
};


// What one retention pass deleted.
struct RetentionReport {
  std::size_t alerts = 0;    // resolved alerts resolved longer than alerts.retention ago
  std::size_t readings = 0;  // history readings older than telemetry.retention
  std::size_t batches = 0;   // writer operations it took, each deleting <= limits::kRetentionBatchRows
};

class Engine {
 public:
  // Opens and migrates the database (throws store::StoreError with a clear message), loads
  // devices, rules, open alerts and latest values. Nothing runs until start().
  Engine(const config::Config& cfg, hub::Hub& hub);
  ~Engine();

  void start();  // engine thread and its timers (offline check, rule ticks, retention)
  void stop();   // stops timers and the thread, then commits every queued write

  // ---- ingest ----
  // Unknown devices are registered (ingest.auto_register) or the whole request is refused with
  // device_not_found, details {"device_id"} (nothing applied). Then, per reading in order:
  // device last_seen and status, latest value, rule evaluation; the telemetry event is
  // published at once.
  void ingest(std::vector<model::TelemetryEvent> events, Reply<model::Result<std::size_t>> reply);
  // The same, but `reply` comes only once the readings (their history rows when
  // telemetry.retention is on, their latest values and the devices' last_seen) are committed:
  // a reading answered by it survives a crash of the process. While the storage refuses writes
  // the reply waits for it (store/writer.hpp); a write that fails for good answers
  // `unavailable`.
  void ingest_committed(std::vector<model::TelemetryEvent> events,
                        Reply<model::Result<std::size_t>> reply);
  // MQTT ingest (issue 12): each event stands alone, as each MQTT message does. An event that
  // would be refused (an unknown device without ingest.auto_register, a device past
  // ingest.max_metrics_per_device) is left out; the others are applied, in order, and
  // published together. `reply` gets, per event in order, nullopt (applied) or its refusal.
  void ingest_each(std::vector<model::TelemetryEvent> events,
                   Reply<std::vector<std::optional<model::DomainError>>> reply);
  // The store writer's state (thread-safe, any thread): for /health and for ingest, which
  // refuses new readings while the storage is unavailable.
  store::Writer::Health storage_health() const;
  bool storage_available() const;

  // ---- devices (claims restrict what analysts and users see) ----
  void list_devices(DeviceQuery q, auth::Claims claims,
                    Reply<model::Result<Page<model::Device>>> reply);
  void get_device(std::int64_t id, auth::Claims claims, Reply<model::Result<model::Device>> reply);
  void create_device(model::Device d, Reply<model::Result<model::Device>> reply);
  // `patch` validates and applies the change onto the current record (the API's device patch);
  // its error is the reply.
  void update_device(std::int64_t id, std::function<model::Result<void>(model::Device&)> patch,
                     Reply<model::Result<model::Device>> reply);
  void delete_device(std::int64_t id, Reply<model::Result<model::Device>> reply);
  void report_status(std::int64_t id, model::StatusReport report,
                     Reply<model::Result<model::Device>> reply);
  void latest_telemetry(std::int64_t id, auth::Claims claims,
                        Reply<model::Result<std::vector<model::MetricValue>>> reply);

  // ---- alert rules ----
  void list_rules(Reply<model::Result<std::vector<model::AlertRule>>> reply);
  void get_rule(std::int64_t id, Reply<model::Result<model::AlertRule>> reply);
  void create_rule(model::AlertRule r, Reply<model::Result<model::AlertRule>> reply);
  void update_rule(std::int64_t id, std::function<model::Result<void>(model::AlertRule&)> patch,
                   Reply<model::Result<model::AlertRule>> reply);
  void delete_rule(std::int64_t id, Reply<model::Result<model::AlertRule>> reply);

  // ---- alerts ----
  // `q.device_ids` is further restricted to what `claims` cover.
  void list_alerts(store::AlertQuery q, auth::Claims claims,
                   Reply<model::Result<Page<model::Alert>>> reply);
  void get_alert(std::int64_t id, auth::Claims claims, Reply<model::Result<model::Alert>> reply);
  // Records who and when (and notes); publishes the new state on the alerts channel.
  void acknowledge_alert(std::int64_t id, std::string who, std::string notes,
                         Reply<model::Result<model::Alert>> reply);
  void resolve_alert(std::int64_t id, std::string who, std::string notes,
                     Reply<model::Result<model::Alert>> reply);

  // ---- for WebSocket sessions ----
  // Stored alerts with id > since_id matching `filters` (device_ids, severities, alert_types)
  // and visible to `claims`, oldest first. `reply` runs on the writer thread once every alert
  // committed before the query has been published (so a subscriber holding live alerts from
  // before the call has them all when the reply arrives, and nothing after it duplicates one).
  void replay_alerts(std::int64_t since_id, protocol::Filters filters, auth::Claims claims,
                     Reply<model::AlertReplay> reply);

  // Snapshots (model::Snapshot) are current as of a hub event id: telemetry and status events
  // are published by the engine thread, in the order the state changes.
  // Latest stored value of each matching device and metric, as telemetry events (one per device).
  void telemetry_snapshot(protocol::Filters filters, auth::Claims claims,
                          Reply<model::Snapshot<model::TelemetryEvent>> reply);
  // Current status of each matching device (old_status == new_status), as status events.
  void status_snapshot(protocol::Filters filters, auth::Claims claims,
                       Reply<model::Snapshot<model::DeviceStatusEvent>> reply);

  // Demo: seeds devices 1..n that do not exist, and a few rules when there are none.
  void seed_demo(int devices);

  // ---- retention ----
  // The engine prunes at start and every limits::kRetentionPeriod: history readings older than
  // telemetry.retention, then resolved alerts resolved longer than alerts.retention ago, in
  // batches of limits::kRetentionBatchRows, each queued once the previous one committed. A retention of
  // 0 prunes nothing. `reply` comes once a pass that began after this call has ended.
  void prune_now(Reply<RetentionReport> reply);

  // Blocks until every write queued so far is committed (tests and shutdown).
  void flush();

  struct Impl;  // engine/engine_impl.hpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace valtronics::engine
