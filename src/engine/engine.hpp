// The domain engine: devices and their status, latest metric values, alert rules and alerts.
// It runs on its own thread (one io_context), so its state needs no lock and readings of a
// device are evaluated in arrival order. It publishes events to the hub and persists through the
// store's writer thread; an alert is published only once the transaction holding it committed.
// Every public function is thread-safe: it posts to the engine thread and calls `reply` there
// (callers post the result back to their own thread).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "auth/claims.hpp"
#include "config/config.hpp"
#include "engine/device_status.hpp"
#include "engine/model_json.hpp"
#include "engine/models.hpp"
#include "engine/rules.hpp"
#include "hub/hub.hpp"
#include "protocol/messages.hpp"
#include "store/db.hpp"
#include "store/repositories.hpp"
#include "store/writer.hpp"

namespace valtronics::engine {

template <class T>
using Reply = std::function<void(T)>;

struct DeviceQuery {
  std::optional<std::string> status, device_type;
  std::size_t page = 1, size = 20;
};
template <class T>
struct Page {
  std::vector<T> items;
  std::size_t total = 0;
};

// Result of a since_alert_id replay: the stored alerts after the id that match, in id order, and
// whether history reached back far enough (false: some alerts after since_id were pruned or lie
// beyond the replay limit; `oldest_available` says where history starts).
struct Replay {
  std::vector<Alert> alerts;
  bool complete = true;
  std::int64_t oldest_available = 0;
};

// The alerts channel's form of an alert, and the order of alert states (active 0,
// acknowledged 1, resolved 2): a state never goes back.
hub::AlertEvent to_alert_event(const Alert& a);
int alert_status_rank(const std::string& status);

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
  // 404 DEVICE_NOT_FOUND (nothing applied). Then, per reading in order: device last_seen and
  // status, latest value, rule evaluation; the telemetry event is published at once.
  void ingest(std::vector<hub::TelemetryEvent> events, Reply<ApiResult<std::size_t>> reply);

  // ---- devices (claims restrict what analysts and users see) ----
  void list_devices(DeviceQuery q, auth::Claims claims, Reply<ApiResult<Page<Device>>> reply);
  void get_device(std::int64_t id, auth::Claims claims, Reply<ApiResult<Device>> reply);
  void create_device(Device d, Reply<ApiResult<Device>> reply);
  // `patch` validates and applies the change onto the current record (see apply_device_patch).
  void update_device(std::int64_t id, std::function<ApiResult<void>(Device&)> patch,
                     Reply<ApiResult<Device>> reply);
  void delete_device(std::int64_t id, Reply<ApiResult<Device>> reply);
  void report_status(std::int64_t id, StatusReport report, Reply<ApiResult<Device>> reply);
  void latest_telemetry(std::int64_t id, auth::Claims claims,
                        Reply<ApiResult<std::vector<MetricValue>>> reply);

  // ---- alert rules ----
  void list_rules(Reply<ApiResult<std::vector<AlertRule>>> reply);
  void get_rule(std::int64_t id, Reply<ApiResult<AlertRule>> reply);
  void create_rule(AlertRule r, Reply<ApiResult<AlertRule>> reply);
  void update_rule(std::int64_t id, std::function<ApiResult<void>(AlertRule&)> patch,
                   Reply<ApiResult<AlertRule>> reply);
  void delete_rule(std::int64_t id, Reply<ApiResult<AlertRule>> reply);

  // ---- alerts ----
  // `q.device_ids` is further restricted to what `claims` cover.
  void list_alerts(store::AlertQuery q, auth::Claims claims, Reply<ApiResult<Page<Alert>>> reply);
  void get_alert(std::int64_t id, auth::Claims claims, Reply<ApiResult<Alert>> reply);
  // Records who and when (and notes); publishes the new state on the alerts channel.
  void acknowledge_alert(std::int64_t id, std::string who, std::string notes,
                         Reply<ApiResult<Alert>> reply);
  void resolve_alert(std::int64_t id, std::string who, std::string notes,
                     Reply<ApiResult<Alert>> reply);

  // ---- for WebSocket sessions ----
  // Stored alerts with id > since_id matching `filters` (device_ids, severities, alert_types)
  // and visible to `claims`, oldest first. `reply` runs on the writer thread once every alert
  // committed before the query has been published (so a subscriber holding live alerts from
  // before the call has them all when the reply arrives, and nothing after it duplicates one).
  void replay_alerts(std::int64_t since_id, protocol::Filters filters, auth::Claims claims,
                     Reply<Replay> reply);

  // A snapshot and the hub event id it is current as of: events of its channel with an id up to
  // `as_of` are already reflected in it (telemetry and status events are published by the engine
  // thread, in the order the state changes).
  template <class T>
  struct Snapshot {
    std::vector<T> items;
    std::uint64_t as_of = 0;
  };
  // Latest stored value of each matching device and metric, as telemetry events (one per device).
  void telemetry_snapshot(protocol::Filters filters, auth::Claims claims,
                          Reply<Snapshot<hub::TelemetryEvent>> reply);
  // Current status of each matching device (old_status == new_status), as status events.
  void status_snapshot(protocol::Filters filters, auth::Claims claims,
                       Reply<Snapshot<hub::DeviceStatusEvent>> reply);

  // Demo: seeds devices 1..n and a few rules when the database has none.
  void seed_demo(int devices);

  // Blocks until every write queued so far is committed (tests and shutdown).
  void flush();

  struct Impl;  // engine.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace valtronics::engine
