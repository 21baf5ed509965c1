// Ingest: per reading in arrival order, the device's last_seen and status, the latest value and
// the rules; the telemetry events published at once; history appended; latest values and
// last_seen written coalesced (at most one write of them in flight).
#include "auth/policy.hpp"
#include "engine/engine_impl.hpp"

namespace valtronics::engine {

using model::MetricValue;

void Engine::ingest(std::vector<model::TelemetryEvent> events,
                    Reply<model::Result<std::size_t>> reply) {
  impl_->call(&Impl::ingest, std::move(events), std::move(reply), impl_->hub.start_ingest());
}

void Engine::ingest_committed(std::vector<model::TelemetryEvent> events,
                              Reply<model::Result<std::size_t>> reply) {
  impl_->call(&Impl::ingest_committed, std::move(events), std::move(reply),
              impl_->hub.start_ingest());
}

void Engine::ingest_each(std::vector<model::TelemetryEvent> events,
                         Reply<std::vector<std::optional<model::DomainError>>> reply) {
  impl_->call(&Impl::ingest_each, std::move(events), std::move(reply), impl_->hub.start_ingest());
}

void Engine::latest_telemetry(std::int64_t id, auth::Claims claims,
                              Reply<model::Result<std::vector<MetricValue>>> reply) {
  impl_->call(&Impl::latest_telemetry, id, std::move(claims), std::move(reply));
}

void Engine::Impl::ingest(std::vector<model::TelemetryEvent> events,
                          Reply<model::Result<std::size_t>> reply, hub::Hub::IngestTicket) {
  if (partitioning)
    return ingest_routed(std::move(events), IngestMode::applied, std::move(reply), {});
  ingest_with(std::move(events), std::move(reply), false);
}

void Engine::Impl::ingest_committed(std::vector<model::TelemetryEvent> events,
                                    Reply<model::Result<std::size_t>> reply,
                                    hub::Hub::IngestTicket) {
  if (partitioning)
    return ingest_routed(std::move(events), IngestMode::committed, std::move(reply), {});
  ingest_with(std::move(events), std::move(reply), true);
}

void Engine::Impl::ingest_each(std::vector<model::TelemetryEvent> events, Reply<Verdicts> reply,
                               hub::Hub::IngestTicket) {
  if (partitioning) return ingest_routed(std::move(events), IngestMode::each, {}, std::move(reply));
  reply(apply_each(std::move(events)));
}

// The refusals ingest_with would give a whole request, given to each event alone; the events
// that pass are then applied together, as one request.
Verdicts Engine::Impl::apply_each(std::vector<model::TelemetryEvent> events) {
  Verdicts verdicts(events.size());
  std::vector<model::TelemetryEvent> accepted;
  accepted.reserve(events.size());
  NewMetrics added;
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto& e = events[i];
    if (!cfg.ingest.auto_register && !devices.count(e.device_id)) {
      verdicts[i] = model::DomainError{
          model::DomainError::Kind::device_not_found,
          "device " + std::to_string(e.device_id) + " is not registered", {},
          boost::json::object{{"device_id", e.device_id}}};
    } else if (auto refused = metrics_over_cap(e, added)) {
      verdicts[i] = std::move(*refused);
    } else {
      accepted.push_back(std::move(e));
    }
  }
  if (!accepted.empty()) {
    // Nothing in `accepted` can be refused now: ingest_with's checks are the ones above.
    ingest_with(std::move(accepted), [](model::Result<std::size_t>) {}, false);
  }
  return verdicts;
}

void Engine::Impl::ingest_with(std::vector<model::TelemetryEvent> events,
                               Reply<model::Result<std::size_t>> reply, bool committed) {
  // All or nothing: refuse before applying anything.
  if (!cfg.ingest.auto_register) {
    for (const auto& e : events) {
      if (!devices.count(e.device_id)) {
        return reply(model::DomainError{
            model::DomainError::Kind::device_not_found,
            "device " + std::to_string(e.device_id) + " is not registered", {},
            boost::json::object{{"device_id", e.device_id}}});
      }
    }
  }
  if (auto refused = metrics_over_cap(events)) return reply(std::move(*refused));
  const auto now = util::Clock::now();
  std::size_t readings = 0;
  std::vector<MetricValue> values;
  std::set<std::int64_t> touched;
  std::vector<model::EventBody> updates;  // published together: one write per subscriber
  updates.reserve(events.size());
  for (auto& e : events) {
    auto dev = devices.find(e.device_id);
    if (dev == devices.end()) dev = register_device(e.device_id, now);
    dev->second.last_seen = now;
    touched.insert(e.device_id);
    apply_status_transition(tracker.on_telemetry(e.device_id, now));
    auto& slots = latest[e.device_id];
    for (const auto& r : e.readings) {
      MetricValue v{e.device_id, r.name, r.value, r.unit, r.timestamp};
      slots[r.name] = v;
      values.push_back(std::move(v));
      apply_rule_decisions(evaluator.on_reading(e.device_id, dev->second.device_type, r.name,
                                                r.value, r.timestamp));
    }
    readings += e.readings.size();
    updates.emplace_back(std::move(e));
  }
  hub.publish_many(std::move(updates));
  if (committed) return write_committed(std::move(values), touched, now, readings, std::move(reply));
  if (cfg.telemetry.retention.count() > 0) gather_history(values);
  for (auto& v : values) unwritten_latest[{v.device_id, v.metric}] = std::move(v);
  for (auto id : touched) unwritten_last_seen[id] = now;
  write_latest_values();
  reply(model::Result<std::size_t>(boost::system::in_place_value, readings));
}

// The synchronous mode: this request's readings in one operation of their own (history, latest
// values, last_seen), answered from its commit callback. The coalesced write must not later
// overwrite these latest values with older ones, so their keys leave it; a coalesced write
// already queued holds older values and commits first (the writer keeps submission order).
void Engine::Impl::write_committed(std::vector<MetricValue> values,
                                   const std::set<std::int64_t>& touched, util::TimePoint now,
                                   std::size_t readings,
                                   Reply<model::Result<std::size_t>> reply) {
  for (const auto& v : values) unwritten_latest.erase({v.device_id, v.metric});
  std::map<std::int64_t, util::TimePoint> seen;
  for (auto id : touched) {
    unwritten_last_seen.erase(id);
    seen[id] = now;
  }
  const bool history = cfg.telemetry.retention.count() > 0;
  writer->submit(
      [values = std::move(values), seen = std::move(seen), history](store::Database& db) {
        if (history) store::append_history(db, values);
        store::upsert_latest_metrics(db, values);
        for (const auto& [id, at] : seen) store::update_device_last_seen(db, id, at);
      },
      [this, readings, reply = std::move(reply)](bool ok) mutable {
        post([ok, readings, reply = std::move(reply)]() mutable {
          if (ok) return reply(model::Result<std::size_t>(boost::system::in_place_value, readings));
          reply(model::DomainError{model::DomainError::Kind::unavailable,
                                   "the readings were applied but could not be stored", {}, {}});
        });
      },
      store::Writer::Commit::prompt);  // ?sync=true: the request waits for this commit
}

// ingest.max_metrics_per_device: one device token could otherwise create any number of distinct
// metrics, each costing memory for good (latest values, rule state). A request that would take a
// device past the cap is refused whole, before anything is applied.
std::optional<model::DomainError> Engine::Impl::metrics_over_cap(
    const std::vector<model::TelemetryEvent>& events) const {
  NewMetrics added;
  for (const auto& e : events)
    if (auto err = metrics_over_cap(e, added)) return err;
  return std::nullopt;
}

// One event against the cap, counting the metrics the events before it in the same call
// `added`; when it fits, its new metrics join `added`.
std::optional<model::DomainError> Engine::Impl::metrics_over_cap(const model::TelemetryEvent& e,
                                                                 NewMetrics& added) const {
  const std::size_t cap = cfg.ingest.max_metrics_per_device;
  const auto known = latest.find(e.device_id);
  auto& before = added[e.device_id];
  std::set<std::string> fresh;
  for (const auto& r : e.readings)
    if ((known == latest.end() || !known->second.count(r.name)) && !before.count(r.name))
      fresh.insert(r.name);
  const std::size_t total =
      (known == latest.end() ? 0 : known->second.size()) + before.size() + fresh.size();
  if (total > cap) {
    model::DomainError err = model::invalid(
        "metric_name", "device " + std::to_string(e.device_id) + " would have " +
                           std::to_string(total) + " distinct metrics; at most " +
                           std::to_string(cap) + " are allowed (ingest.max_metrics_per_device)");
    err.details["field"] = "metric_name";
    err.details["device_id"] = e.device_id;
    err.details["max_metrics_per_device"] = cap;
    return err;
  }
  before.insert(fresh.begin(), fresh.end());
  return std::nullopt;
}

// However fast readings come and however slow the disk, what waits to be written is bounded by
// the number of (device, metric) pairs: the next write carries everything that changed since
// the previous one, and starts once that one committed.
void Engine::Impl::write_latest_values() {
  if (latest_write_in_flight || (unwritten_latest.empty() && unwritten_last_seen.empty())) return;
  latest_write_in_flight = true;
  std::vector<MetricValue> values;
  values.reserve(unwritten_latest.size());
  for (auto& [k, v] : unwritten_latest) values.push_back(std::move(v));
  unwritten_latest.clear();
  writer->submit(
      [values = std::move(values), seen = std::move(unwritten_last_seen)](store::Database& db) {
        store::upsert_latest_metrics(db, values);
        for (const auto& [id, at] : seen) store::update_device_last_seen(db, id, at);
      },
      [this](bool) {
        post([this] {
          latest_write_in_flight = false;
          write_latest_values();
        });
      });
  unwritten_last_seen.clear();
}

// History is written in few, large operations: each commit costs a write of every database
// page it changed, and readings of the same devices and metrics change the same index and
// rollup pages, so thousands of readings in one operation cost little more per reading than
// the rows themselves (and their per-minute fold is a few rollup rows). Nothing waits for
// these commits (a request with ?sync=true writes its readings itself, write_committed), so
// holding readings up to kHistoryWriteDelay costs no one anything; alerts, status changes and
// latest values keep their own operations. A full batch goes at once, even while an earlier
// one is still queued: the writer never waits for a round trip through this thread.
void Engine::Impl::gather_history(std::vector<MetricValue>& values) {
  unwritten_history.insert(unwritten_history.end(), values.begin(), values.end());
  history_backlog.fetch_add(values.size(), std::memory_order_relaxed);
  if (unwritten_history.size() >= kHistoryWriteBatch) return write_history();
  if (history_timer_armed || stopping) return;
  history_timer_armed = true;
  history_timer.expires_after(kHistoryWriteDelay);
  history_timer.async_wait([this](boost::system::error_code ec) {
    history_timer_armed = false;
    if (!ec) write_history();
  });
}

void Engine::Impl::write_history() {
  if (unwritten_history.empty()) return;
  const std::size_t n = unwritten_history.size();
  writer->submit(
      [values = std::exchange(unwritten_history, {})](store::Database& db) {
        store::append_history(db, values);
      },
      // On the writer thread: the backlog is an atomic, read by the I/O threads.
      [this, n](bool) { history_backlog.fetch_sub(n, std::memory_order_relaxed); });
}

void Engine::Impl::latest_telemetry(std::int64_t id, auth::Claims claims,
                                    Reply<model::Result<std::vector<MetricValue>>> reply) {
  refresh_unowned({id});
  if (!devices.count(id) || !auth::may_see_device(claims, id))
    return reply(model::not_found("device", id));
  std::vector<MetricValue> out;
  if (auto d = latest.find(id); d != latest.end())
    for (const auto& [name, v] : d->second) out.push_back(v);
  reply(std::move(out));
}

std::string Engine::Impl::unit_of(std::int64_t device, const std::string& metric) const {
  auto d = latest.find(device);
  if (d == latest.end()) return {};
  auto m = d->second.find(metric);
  return m == d->second.end() ? std::string{} : m->second.unit;
}

}  // namespace valtronics::engine
