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
#include <array>
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
  std::size_t minutes = 0;   // per-minute rollups of those readings (issue 14)
  std::size_t batches = 0;   // writer operations it took, each deleting <= limits::kRetentionBatchRows
};

// (issue 12) In a cluster, each device belongs to one partition (engine/partition.hpp) and each
// partition to one node at a time. The engine tracks status and evaluates rules only for the
// devices of the partitions it owns; what concerns another node's device goes to its owner
// through the Forwarder, which the cluster layer (cluster/node.hpp) implements over NATS.
// How forwarded readings are applied by their owner: as Engine::ingest (answered once applied),
// ingest_committed (once committed) or ingest_each (a verdict per event).
enum class IngestMode { applied, committed, each };
// Per event, in order: nullopt (applied) or its refusal.
using Verdicts = std::vector<std::optional<model::DomainError>>;

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Readings of devices of `partition`, applied by its owner. `reply` may run on any thread:
  // the verdicts (mode `each`; empty otherwise), the refusal of the whole (other modes), or
  // `unavailable` when no owner answered in time (a partition moving after its node died).
  virtual void forward_ingest(unsigned partition, std::vector<model::TelemetryEvent> events,
                              IngestMode mode,
                              std::function<void(model::Result<Verdicts>)> reply) = 0;
  // A status report of a device of `partition`, applied by its owner; ok once committed there.
  virtual void forward_report(unsigned partition, std::int64_t device, model::StatusReport report,
                              std::function<void(model::Result<void>)> reply) = 0;
};

// What a node changed that the other nodes of a cluster read again (Engine::reload_*).
struct Change {
  enum class Kind { rules, device };
  Kind kind;
  std::int64_t id = 0;  // the device (Kind::device)
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
  // (issue 14) Writer queue or history backlog at its bound: ingest answers 503, Retry-After.
  bool write_queue_full() const;
  // Where the store is, for other connections to the same database (store::Reader): cfg.db, or
  // for ":memory:" the shared-cache URI the engine's connections use.
  std::string store_location() const;

  // ---- devices (claims restrict what analysts and users see) ----
  // How many registered devices have each status, in model::DeviceStatus order (GET /metrics).
  void device_status_counts(Reply<std::array<std::uint64_t, 5>> reply);
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

  // ---- cluster (issue 12; docs/deployment.md) ----
  // Before start(): devices are spread over `partitions` partitions and this engine owns none
  // until adopt_partitions(); readings and status reports of devices it does not own go to
  // `forwarder`. `on_change` is called (writer thread) once a change other nodes must reload
  // (rules, a device's record) is committed.
  void enable_partitioning(unsigned partitions, Forwarder* forwarder,
                           std::function<void(Change)> on_change);
  // Takes these partitions over: reads their devices' state from the shared database (status,
  // last_seen, latest values, open alerts, cooldowns), then tracks and evaluates them. `done`
  // runs on the engine thread once it owns them.
  void adopt_partitions(std::vector<unsigned> partitions, std::function<void()> done);
  // Stops tracking and evaluating them (their state stays in the database for the next owner).
  void release_partitions(std::vector<unsigned> partitions);
  // The partitions owned now (any thread; for /health and the stats).
  std::vector<unsigned> owned_partitions() const;
  // Another node forwarded these (this node owns their partition): applied as ingest() or
  // ingest_committed(); `unavailable` when this engine does not own a device's partition (any
  // more): the forwarder then tries again.
  void ingest_forwarded(std::vector<model::TelemetryEvent> events, IngestMode mode,
                        Reply<model::Result<Verdicts>> reply);
  void report_forwarded(std::int64_t id, model::StatusReport report,
                        Reply<model::Result<void>> reply);
  // Another node committed a change: read it again from the database.
  void reload(Change change);
  // Events another node published: what this engine caches (latest values, device status,
  // open alerts of owned devices) follows them, then they go to this node's subscribers.
  void apply_remote(std::vector<model::EventBody> bodies);

  // Blocks until every write queued so far is committed (tests and shutdown).
  void flush();

  struct Impl;  // engine/engine_impl.hpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace valtronics::engine
