// The engine's state and the code that runs on its thread (private to engine/). Engine's public
// functions post to this thread and call the Impl function of the same name there, so nothing
// below takes a lock. One file per concern:
//   engine.cpp     opening and loading the store, the thread, start/stop, the tick, flush
//   devices.cpp    the device registry, status reports and status transitions
//   telemetry.cpp  ingest: latest values, history, their coalesced writes
//   alerts.cpp     alerts from rule decisions, their state changes, reads
//   alert_rules.cpp  the rule set: create, update, delete (and the decisions a change makes)
//   replay.cpp     since_alert_id replays
//   snapshots.cpp  telemetry and status snapshots
//   seeding.cpp    demo devices and rules
//   retention.cpp  pruning old history and resolved alerts in batches
//   cluster.cpp    partitions owned, readings routed to their owner, changes of other nodes
// Writes go through the store's writer; alerts and their state changes are published from the
// writer's commit callbacks (durable first, and in commit = id order), which post anything else
// back to this thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/engine.hpp"

namespace valtronics::engine {

// Narrows a device filter to what `claims` may see (an empty filter means every device the
// claims cover). False: nothing is visible.
bool restrict_to_claims(std::vector<std::int64_t>& device_ids, const auth::Claims& claims);

struct Engine::Impl {
  Impl(const config::Config& cfg, hub::Hub& hub);

  // ---- threading (engine.cpp) ----
  template <class F>
  void post(F&& f) {
    boost::asio::post(ioc, std::forward<F>(f));
  }
  // Runs `(this->*method)(args...)` on the engine thread.
  template <class... Params, class... Args>
  void call(void (Impl::*method)(Params...), Args&&... args) {
    post([this, method, ... args = std::forward<Args>(args)]() mutable {
      (this->*method)(std::move(args)...);
    });
  }
  // Replies on the engine thread once the writes queued so far are committed.
  template <class T>
  void reply_after_commit(Reply<T> reply, T value) {
    writer->submit([](store::Database&) {},
                   [this, reply = std::move(reply), value = std::move(value)](bool) mutable {
                     post([reply = std::move(reply), value = std::move(value)]() mutable {
                       reply(std::move(value));
                     });
                   },
                   store::Writer::Commit::prompt);
  }
  void start();
  void stop_timers();
  void tick();  // offline checks and rule durations, every limits::kEngineTickPeriod

  // ---- devices (devices.cpp) ----
  void list_devices(DeviceQuery q, auth::Claims claims,
                    Reply<model::Result<Page<model::Device>>> reply);
  void get_device(std::int64_t id, auth::Claims claims, Reply<model::Result<model::Device>> reply);
  void create_device(model::Device d, Reply<model::Result<model::Device>> reply);
  void update_device(std::int64_t id, std::function<model::Result<void>(model::Device&)> patch,
                     Reply<model::Result<model::Device>> reply);
  void delete_device(std::int64_t id, Reply<model::Result<model::Device>> reply);
  void report_status(std::int64_t id, model::StatusReport report,
                     Reply<model::Result<model::Device>> reply);
  // Telemetry from a device the registry does not know (ingest.auto_register).
  std::map<std::int64_t, model::Device>::iterator register_device(std::int64_t id,
                                                                  util::TimePoint now);
  // Stores and publishes a status change of the tracker, and raises or resolves the device's
  // offline alert. Nothing when `t` is empty (the tracker saw no change).
  void apply_status_transition(const std::optional<StatusTransition>& t);

  // ---- telemetry (telemetry.cpp) ----
  // `ticket` (hub.hpp) ends when the call returns, after the events were published and the
  // reply given: the I/O threads holding their writes for this ingest may write then.
  void ingest(std::vector<model::TelemetryEvent> events, Reply<model::Result<std::size_t>> reply,
              hub::Hub::IngestTicket ticket);
  void ingest_committed(std::vector<model::TelemetryEvent> events,
                        Reply<model::Result<std::size_t>> reply, hub::Hub::IngestTicket ticket);
  void ingest_each(std::vector<model::TelemetryEvent> events, Reply<Verdicts> reply,
                   hub::Hub::IngestTicket ticket);
  // Both ingests: applies the readings and publishes them; `committed` chooses how they are
  // written and when `reply` comes.
  void ingest_with(std::vector<model::TelemetryEvent> events,
                   Reply<model::Result<std::size_t>> reply, bool committed);
  void latest_telemetry(std::int64_t id, auth::Claims claims,
                        Reply<model::Result<std::vector<model::MetricValue>>> reply);
  void write_latest_values();  // the coalesced write of latest values and last_seen
  // History readings (and their rollups): gathered for up to kHistoryWriteDelay or
  // kHistoryWriteBatch readings (gather_history), then written in one operation (write_history).
  void gather_history(std::vector<model::MetricValue>& values);
  void write_history();
  static constexpr auto kHistoryWriteDelay = std::chrono::milliseconds(50);
  static constexpr std::size_t kHistoryWriteBatch = 5'000;
  void write_committed(std::vector<model::MetricValue> values,
                       const std::set<std::int64_t>& touched, util::TimePoint now,
                       std::size_t readings, Reply<model::Result<std::size_t>> reply);
  // The refusal of a request that would take a device past ingest.max_metrics_per_device.
  std::optional<model::DomainError> metrics_over_cap(
      const std::vector<model::TelemetryEvent>& events) const;
  // Metrics a call adds per device, not yet in `latest`: what the cap counts besides it.
  using NewMetrics = std::map<std::int64_t, std::set<std::string>>;
  std::optional<model::DomainError> metrics_over_cap(const model::TelemetryEvent& e,
                                                     NewMetrics& added) const;
  std::string unit_of(std::int64_t device, const std::string& metric) const;

  // ---- alerts (alerts.cpp) ----
  // The id of an alert whose insert may not be committed yet: set by the writer thread.
  using AlertIdCell = std::shared_ptr<std::atomic<std::int64_t>>;
  struct OpenAlert {
    model::Alert alert;  // the engine thread's copy
    AlertIdCell id;
  };
  using OpenAlertPtr = std::shared_ptr<OpenAlert>;
  // Inserts `a`; once committed, publishes it and (critical) tells the status tracker.
  OpenAlertPtr raise_alert(model::Alert a);
  // Stores a state change (acknowledged, resolved) of the alert in `id`; once committed,
  // publishes it, then calls `done` with the record on the engine thread.
  void store_alert_state(const AlertIdCell& id, model::Alert a,
                         std::function<void(model::Alert)> done = {});
  void resolve_open_alert(const OpenAlertPtr& open, const std::string& who,
                          const std::string& notes, util::TimePoint at);
  // Raises an alert for each `fire` and resolves the open alert of each `resolve`.
  void apply_rule_decisions(const std::vector<RuleDecision>& decisions);
  void list_alerts(store::AlertQuery q, auth::Claims claims,
                   Reply<model::Result<Page<model::Alert>>> reply);
  void get_alert(std::int64_t id, auth::Claims claims, Reply<model::Result<model::Alert>> reply);
  // Acknowledge or resolve: checks the status only moves forward, records who and when.
  void change_alert_status(std::int64_t id, model::AlertStatus to, std::string who,
                           std::string notes, Reply<model::Result<model::Alert>> reply);

  // ---- alert rules (alert_rules.cpp) ----
  void list_rules(Reply<model::Result<std::vector<model::AlertRule>>> reply);
  void get_rule(std::int64_t id, Reply<model::Result<model::AlertRule>> reply);
  void create_rule(model::AlertRule r, Reply<model::Result<model::AlertRule>> reply);
  void update_rule(std::int64_t id, std::function<model::Result<void>(model::AlertRule&)> patch,
                   Reply<model::Result<model::AlertRule>> reply);
  void delete_rule(std::int64_t id, Reply<model::Result<model::AlertRule>> reply);

  // ---- replay (replay.cpp), snapshots (snapshots.cpp), seeding (seeding.cpp) ----
  void replay_alerts(std::int64_t since_id, protocol::Filters filters, auth::Claims claims,
                     Reply<model::AlertReplay> reply);
  void telemetry_snapshot(protocol::Filters filters, auth::Claims claims,
                          Reply<model::Snapshot<model::TelemetryEvent>> reply);
  void status_snapshot(protocol::Filters filters, auth::Claims claims,
                       Reply<model::Snapshot<model::DeviceStatusEvent>> reply);
  void seed_demo(int devices);

  // ---- retention (retention.cpp) ----
  // history: raw readings; minutes: their per-minute rollups (issue 14), pruned after them.
  enum class PrunedTable { history, minutes, alerts };
  struct RetentionPass {
    // unset: nothing (more) to prune
    std::optional<util::TimePoint> history_before, minutes_before, alerts_before;
    RetentionReport report;
    std::vector<Reply<RetentionReport>> waiters;
  };
  void on_retention_timer();
  void prune_now(Reply<RetentionReport> reply);
  void begin_retention_pass();
  void prune_next_batch();
  void on_batch_pruned(PrunedTable table, bool ok, std::size_t deleted);
  void end_retention_pass();

  // ---- cluster (cluster.cpp; issue 12) ----
  struct Partitioning {
    unsigned count = 1;
    Forwarder* forwarder = nullptr;
    std::function<void(Change)> on_change;
    std::set<unsigned> owned;
  };
  // A single node owns every device; in a cluster, the devices of the partitions it adopted.
  bool owns(std::int64_t device) const;
  void adopt_partitions(std::vector<unsigned> ps, std::function<void()> done);
  void release_partitions(std::vector<unsigned> ps);
  // Open alerts read from the store (start-up, adoption): firing state, the open-alert maps,
  // critical alerts the status tracker counts.
  void restore_open_alert(const model::Alert& a);
  // Resumes the stored duration windows of the known devices `wanted` accepts (rules.hpp).
  void restore_rule_windows(const std::function<bool(std::int64_t)>& wanted);
  // Splits `events` by owner: those of owned devices go to `local` (with their indices in
  // `events`), the others to their owners. Returns false when nothing is forwarded.
  struct Routed {
    std::vector<model::TelemetryEvent> local;
    std::vector<std::size_t> local_index;
    std::map<unsigned, std::pair<std::vector<model::TelemetryEvent>, std::vector<std::size_t>>>
        remote;  // partition -> events and their indices
  };
  Routed route(std::vector<model::TelemetryEvent> events) const;
  // Ingest in a cluster: owned events applied here, the others forwarded; one reply (`reply`,
  // or `each_reply` in mode `each`) once every part answered.
  void ingest_routed(std::vector<model::TelemetryEvent> events, IngestMode mode,
                     Reply<model::Result<std::size_t>> reply, Reply<Verdicts> each_reply);
  // ingest_each's checks and application, for events all owned here.
  Verdicts apply_each(std::vector<model::TelemetryEvent> events);
  void ingest_forwarded(std::vector<model::TelemetryEvent> events, IngestMode mode,
                        Reply<model::Result<Verdicts>> reply, hub::Hub::IngestTicket ticket);
  void report_forwarded(std::int64_t id, model::StatusReport report,
                        Reply<model::Result<void>> reply);
  void reload(Change change);
  // Reads what other nodes changed of devices this node does not own (their status, last_seen
  // and latest values: their owners write them) from the shared database, before a read
  // answers from the caches; `ids` empty: every device. Nothing on a single node.
  void refresh_unowned(const std::vector<std::int64_t>& ids);
  void merge_stored(model::Device d);
  void apply_remote(std::vector<model::EventBody> bodies);
  void notify(Change change);  // after the writes queued so far commit: tells on_change

  // ---- state ----
  const config::Config& cfg;
  hub::Hub& hub;
  boost::asio::io_context ioc{1};  // before the writer: its callbacks post here
  std::string memory_uri;          // cfg.db ":memory:": the URI both connections share
  store::Database reader;          // this thread's connection (reads)
  std::unique_ptr<store::Writer> writer;
  RuleEvaluator evaluator;
  DeviceStatusTracker tracker;
  std::map<std::int64_t, model::Device> devices;
  std::map<std::int64_t, std::map<std::string, model::MetricValue>> latest;  // device, metric
  std::map<std::pair<std::int64_t, std::int64_t>, OpenAlertPtr> open_rule_alerts;  // rule, device
  std::map<std::int64_t, OpenAlertPtr> open_offline_alerts;                        // device
  std::int64_t next_device_id = 1, next_rule_id = 1;
  // Latest values and last_seen changed since the last write of them (telemetry.cpp).
  std::map<std::pair<std::int64_t, std::string>, model::MetricValue> unwritten_latest;
  std::map<std::int64_t, util::TimePoint> unwritten_last_seen;
  bool latest_write_in_flight = false;
  // History readings not yet handed to the writer (telemetry.cpp, gather_history).
  std::vector<model::MetricValue> unwritten_history;
  // unwritten_history's size plus the readings queued in the writer and not yet committed, for
  // ingest's 503 beyond telemetry.max_history_backlog (Engine::write_queue_full, read on the I/O
  // threads).
  std::atomic<std::size_t> history_backlog{0};
  std::optional<RetentionPass> retention_pass;            // the pass running
  std::vector<Reply<RetentionReport>> next_pass_waiters;  // prune_now() calls during it
  bool stopping = false;
  std::optional<Partitioning> partitioning;  // in a cluster only
  mutable std::mutex owned_mutex;            // owned_copy: read by other threads
  std::vector<unsigned> owned_copy;

  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  std::thread thread;
  boost::asio::steady_timer tick_timer, retention_timer;
  boost::asio::steady_timer history_timer;  // the next history write (gather_history)
  bool history_timer_armed = false;
};

}  // namespace valtronics::engine
