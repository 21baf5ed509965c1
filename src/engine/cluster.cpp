// The engine in a cluster (issue 12, docs/deployment.md): the partitions this node owns, readings
// and status reports routed to the owner of their device's partition, partitions adopted from
// the shared database when a lease is won, and what other nodes changed or published.
//
// Ownership decides who tracks status and evaluates rules: the tracker and the evaluator hold
// owned devices only, so the tick (offline checks, rule durations) never acts on another node's
// device. The device registry, the latest values and the rule set are kept on every node (for
// reads and snapshots) and follow the other nodes' events and changes.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine_impl.hpp"
#include "engine/partition.hpp"

namespace valtronics::engine {

namespace {

model::DomainError not_owner(unsigned partition) {
  return {model::DomainError::Kind::unavailable,
          "partition " + std::to_string(partition) + " is not owned by this node (any more)",
          {},
          boost::json::object{{"not_owner", true}, {"partition", partition}}};
}

}  // namespace

// ---- Engine: post to the engine thread ----

void Engine::enable_partitioning(unsigned partitions, Forwarder* forwarder,
                                 std::function<void(Change)> on_change) {
  // Before start(): the engine thread does not run yet, so the state is ours to change.
  auto& i = *impl_;
  i.partitioning.emplace();
  i.partitioning->count = std::max(1u, partitions);
  i.partitioning->forwarder = forwarder;
  i.partitioning->on_change = std::move(on_change);
  // Owning nothing yet: forget what the constructor tracked for every device.
  for (const auto& [id, d] : i.devices) {
    i.tracker.forget(id);
    i.evaluator.forget_device(id);
  }
  i.open_rule_alerts.clear();
  i.open_offline_alerts.clear();
}

void Engine::adopt_partitions(std::vector<unsigned> partitions, std::function<void()> done) {
  impl_->call(&Impl::adopt_partitions, std::move(partitions), std::move(done));
}
void Engine::release_partitions(std::vector<unsigned> partitions) {
  impl_->call(&Impl::release_partitions, std::move(partitions));
}
std::vector<unsigned> Engine::owned_partitions() const {
  std::lock_guard lock(impl_->owned_mutex);
  return impl_->owned_copy;
}
void Engine::ingest_forwarded(std::vector<model::TelemetryEvent> events, IngestMode mode,
                              Reply<model::Result<Verdicts>> reply) {
  impl_->call(&Impl::ingest_forwarded, std::move(events), mode, std::move(reply),
              impl_->hub.start_ingest());
}
void Engine::report_forwarded(std::int64_t id, model::StatusReport report,
                              Reply<model::Result<void>> reply) {
  impl_->call(&Impl::report_forwarded, id, std::move(report), std::move(reply));
}
void Engine::reload(Change change) { impl_->call(&Impl::reload, change); }
void Engine::apply_remote(std::vector<model::EventBody> bodies) {
  impl_->call(&Impl::apply_remote, std::move(bodies));
}

// ---- on the engine thread ----

bool Engine::Impl::owns(std::int64_t device) const {
  return !partitioning || partitioning->owned.count(partition_of(device, partitioning->count));
}

void Engine::Impl::restore_open_alert(const model::Alert& a) {
  auto open = std::make_shared<OpenAlert>(
      OpenAlert{a, std::make_shared<std::atomic<std::int64_t>>(a.id)});
  if (a.rule_id) {
    evaluator.restore_firing(*a.rule_id, a.device_id, a.timestamp);
    open_rule_alerts[{*a.rule_id, a.device_id}] = open;
  } else if (a.alert_type == model::AlertType::device) {
    open_offline_alerts[a.device_id] = open;
  }
  if (a.severity == model::Severity::critical) tracker.restore_critical(a.device_id, a.id);
}

void Engine::Impl::adopt_partitions(std::vector<unsigned> ps, std::function<void()> done) {
  auto& part = *partitioning;
  std::set<unsigned> fresh;
  for (auto p : ps)
    if (part.owned.insert(p).second) fresh.insert(p);
  {
    std::lock_guard lock(owned_mutex);
    owned_copy.assign(part.owned.begin(), part.owned.end());
  }
  if (fresh.empty()) return done ? done() : void();
  const auto in = [&](std::int64_t device) {
    return fresh.count(partition_of(device, part.count)) > 0;
  };
  // The previous owner committed its state before it let the lease go (or died: then what it
  // committed is what there is). Rule state that outlives a node lives in the database: open
  // alerts (firing episodes), the last alert of each rule and device (its cooldown) and the
  // duration windows in progress.
  std::size_t adopted = 0, open = 0;
  try {
    for (auto& d : store::load_devices(reader)) {
      if (!in(d.id)) continue;
      tracker.forget(d.id);
      tracker.track(d.id, d.status, d.last_seen);
      evaluator.forget_device(d.id);
      devices[d.id] = std::move(d);
      ++adopted;
    }
    for (auto& m : store::load_latest_metrics(reader)) {
      if (!in(m.device_id)) continue;
      auto& slot = latest[m.device_id][m.metric];
      if (slot.timestamp <= m.timestamp) slot = std::move(m);  // events seen here may be newer
    }
    for (const auto& a : store::load_open_alerts(reader)) {
      if (!in(a.device_id)) continue;
      restore_open_alert(a);
      ++open;
    }
    for (const auto& f : store::last_rule_alerts(reader))
      if (in(f.device_id)) evaluator.restore_last_fired(f.rule_id, f.device_id, f.at);
    restore_rule_windows(in);
  } catch (const store::StoreError& e) {
    // The devices read so far are owned; the others are tracked from their next reading.
    spdlog::error("cluster: reading the state of adopted partitions: {}", e.what());
  }
  spdlog::info("cluster: adopted {} partition(s): {} device(s), {} open alert(s)", fresh.size(),
               adopted, open);
  if (done) done();
}

void Engine::Impl::release_partitions(std::vector<unsigned> ps) {
  auto& part = *partitioning;
  for (auto p : ps) part.owned.erase(p);
  {
    std::lock_guard lock(owned_mutex);
    owned_copy.assign(part.owned.begin(), part.owned.end());
  }
  for (const auto& [id, d] : devices) {
    if (owns(id)) continue;
    tracker.forget(id);
    evaluator.forget_device(id);
    open_offline_alerts.erase(id);
  }
  std::erase_if(open_rule_alerts, [this](const auto& kv) { return !owns(kv.first.second); });
  spdlog::info("cluster: released {} partition(s)", ps.size());
}

Engine::Impl::Routed Engine::Impl::route(std::vector<model::TelemetryEvent> events) const {
  Routed r;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto p = partition_of(events[i].device_id, partitioning->count);
    if (partitioning->owned.count(p)) {
      r.local.push_back(std::move(events[i]));
      r.local_index.push_back(i);
    } else {
      auto& slot = r.remote[p];
      slot.first.push_back(std::move(events[i]));
      slot.second.push_back(i);
    }
  }
  return r;
}

void Engine::Impl::ingest_routed(std::vector<model::TelemetryEvent> events, IngestMode mode,
                                 Reply<model::Result<std::size_t>> reply,
                                 Reply<Verdicts> each_reply) {
  const std::size_t n = events.size();
  Routed r = route(std::move(events));
  const bool committed = mode == IngestMode::committed;
  if (r.remote.empty()) {
    if (mode == IngestMode::each) return each_reply(apply_each(std::move(r.local)));
    return ingest_with(std::move(r.local), std::move(reply), committed);
  }
  // Every part answers on this thread; the request is answered once all have. A request that
  // spans partitions is applied part by part: a refused part does not undo the others
  // (docs/deployment.md).
  struct Join {
    std::size_t pending = 0, readings = 0;
    std::optional<model::DomainError> error;
    Verdicts verdicts;
    Reply<model::Result<std::size_t>> reply;
    Reply<Verdicts> each_reply;
    void part_done() {
      if (--pending > 0) return;
      if (each_reply) return each_reply(std::move(verdicts));
      if (error) return reply(std::move(*error));
      reply(readings);
    }
  };
  auto join = std::make_shared<Join>();
  join->pending = r.remote.size() + (r.local.empty() ? 0 : 1);
  join->verdicts.resize(n);
  join->reply = std::move(reply);
  join->each_reply = std::move(each_reply);
  const auto count = [](const std::vector<model::TelemetryEvent>& evs) {
    std::size_t c = 0;
    for (const auto& e : evs) c += e.readings.size();
    return c;
  };
  for (auto& [p, part] : r.remote) {
    const std::size_t readings = count(part.first);
    partitioning->forwarder->forward_ingest(
        p, std::move(part.first), mode,
        [this, join, index = std::move(part.second), readings](model::Result<Verdicts> res) {
          post([join, index, readings, res = std::move(res)]() mutable {
            if (!res) {
              if (!join->error) join->error = res.error();
              for (auto i : index) join->verdicts[i] = res.error();
            } else {
              join->readings += readings;
              for (std::size_t k = 0; k < index.size() && k < res->size(); ++k)
                join->verdicts[index[k]] = std::move((*res)[k]);
            }
            join->part_done();
          });
        });
  }
  if (r.local.empty()) return;
  if (mode == IngestMode::each) {
    auto verdicts = apply_each(std::move(r.local));
    for (std::size_t k = 0; k < verdicts.size(); ++k)
      join->verdicts[r.local_index[k]] = std::move(verdicts[k]);
    return join->part_done();
  }
  ingest_with(std::move(r.local),
              [join](model::Result<std::size_t> res) {
                if (!res) {
                  if (!join->error) join->error = res.error();
                } else {
                  join->readings += *res;
                }
                join->part_done();
              },
              committed);
}

void Engine::Impl::ingest_forwarded(std::vector<model::TelemetryEvent> events, IngestMode mode,
                                    Reply<model::Result<Verdicts>> reply, hub::Hub::IngestTicket) {
  // The sender's view of the owner may be stale (a partition moving): refuse, it tries again.
  for (const auto& e : events)
    if (!owns(e.device_id))
      return reply(not_owner(partition_of(e.device_id, partitioning->count)));
  if (mode == IngestMode::each) return reply(apply_each(std::move(events)));
  ingest_with(std::move(events),
              [reply = std::move(reply)](model::Result<std::size_t> res) {
                if (!res) return reply(res.error());
                reply(Verdicts{});
              },
              mode == IngestMode::committed);
}

void Engine::Impl::report_forwarded(std::int64_t id, model::StatusReport report,
                                    Reply<model::Result<void>> reply) {
  if (!owns(id)) return reply(not_owner(partition_of(id, partitioning->count)));
  report_status(id, std::move(report), [reply = std::move(reply)](model::Result<model::Device> r) {
    if (!r) return reply(r.error());
    reply(model::Result<void>{});
  });
}

void Engine::Impl::reload(Change change) {
  try {
    if (change.kind == Change::Kind::rules) {
      auto rules = store::load_rules(reader);
      for (const auto& r : rules) next_rule_id = std::max(next_rule_id, r.id + 1);
      apply_rule_decisions(evaluator.set_rules(std::move(rules), util::Clock::now()));
      return;
    }
    const auto id = change.id;
    auto stored = store::get_device(reader, id);
    if (!stored) {  // deleted by another node
      devices.erase(id);
      latest.erase(id);
      tracker.forget(id);
      evaluator.forget_device(id);
      // Owned here: its open alerts resolve, as a delete on this node does (delete_device).
      const auto now = util::Clock::now();
      for (auto o = open_rule_alerts.begin(); o != open_rule_alerts.end();) {
        if (o->first.second != id) {
          ++o;
          continue;
        }
        resolve_open_alert(o->second, "system", "device deleted", now);
        o = open_rule_alerts.erase(o);
      }
      if (auto o = open_offline_alerts.find(id); o != open_offline_alerts.end()) {
        resolve_open_alert(o->second, "system", "device deleted", now);
        open_offline_alerts.erase(o);
      }
      return;
    }
    next_device_id = std::max(next_device_id, id + 1);
    if (!owns(id)) return merge_stored(std::move(*stored));
    // Owned here: status and last_seen are this node's to track; the rest is the record.
    if (auto it = devices.find(id); it != devices.end()) {
      stored->status = it->second.status;
      stored->last_seen = it->second.last_seen;
    }
    if (!tracker.status(id)) tracker.track(id, stored->status, stored->last_seen);
    devices[id] = std::move(*stored);
  } catch (const store::StoreError& e) {
    spdlog::error("cluster: reading a change of another node: {}", e.what());
  }
}

void Engine::Impl::merge_stored(model::Device d) {
  auto it = devices.find(d.id);
  if (it == devices.end() || d.updated_at >= it->second.updated_at) {
    if (it != devices.end() && it->second.last_seen &&
        (!d.last_seen || *d.last_seen < *it->second.last_seen))
      d.last_seen = it->second.last_seen;  // an event seen here was newer than the row
    devices[d.id] = std::move(d);
  } else if (d.last_seen && (!it->second.last_seen || *it->second.last_seen < *d.last_seen)) {
    it->second.last_seen = d.last_seen;
  }
}

void Engine::Impl::refresh_unowned(const std::vector<std::int64_t>& ids) {
  if (!partitioning) return;
  const auto merge_latest = [this](model::MetricValue m) {
    auto& slot = latest[m.device_id][m.metric];
    if (slot.timestamp <= m.timestamp) slot = std::move(m);
  };
  try {
    if (ids.empty() || ids.size() > 64) {
      for (auto& d : store::load_devices(reader))
        if (!owns(d.id)) merge_stored(std::move(d));
      for (auto& m : store::load_latest_metrics(reader))
        if (!owns(m.device_id)) merge_latest(std::move(m));
      return;
    }
    for (auto id : ids) {
      if (owns(id)) continue;
      if (auto d = store::get_device(reader, id)) merge_stored(std::move(*d));
      for (auto& m : store::load_latest_metrics(reader, id)) merge_latest(std::move(m));
    }
  } catch (const store::StoreError& e) {
    spdlog::warn("cluster: reading devices other nodes own: {} (answering from the cache)",
                 e.what());
  }
}

void Engine::Impl::apply_remote(std::vector<model::EventBody> bodies) {
  const auto now = util::Clock::now();
  for (const auto& body : bodies) {
    if (const auto* t = std::get_if<model::TelemetryEvent>(&body)) {
      auto dev = devices.find(t->device_id);
      if (dev == devices.end()) {
        // Registered by its owner a moment ago: the record follows as a device change.
        model::Device d;
        d.id = t->device_id;
        d.name = "Device " + std::to_string(d.id);
        d.created_at = d.updated_at = now;
        dev = devices.emplace(d.id, std::move(d)).first;
      }
      dev->second.last_seen = now;
      auto& slots = latest[t->device_id];
      for (const auto& r : t->readings)
        slots[r.name] = model::MetricValue{t->device_id, r.name, r.value, r.unit, r.timestamp};
    } else if (const auto* s = std::get_if<model::DeviceStatusEvent>(&body)) {
      if (auto dev = devices.find(s->device_id); dev != devices.end()) {
        dev->second.status = s->new_status;
        dev->second.updated_at = s->timestamp;
        if (s->last_seen) dev->second.last_seen = s->last_seen;
      }
    } else if (const auto* a = std::get_if<model::AlertEvent>(&body)) {
      // Someone acknowledged or resolved, on another node, an alert of a device owned here:
      // the open copy follows the stored record, so that a later system resolve keeps it.
      if (!owns(a->device_id) || a->status == model::AlertStatus::active) continue;
      const auto match = [id = a->alert_id](const OpenAlertPtr& o) { return o->id->load() == id; };
      if (a->status == model::AlertStatus::resolved) {
        std::erase_if(open_rule_alerts, [&](const auto& kv) { return match(kv.second); });
        std::erase_if(open_offline_alerts, [&](const auto& kv) { return match(kv.second); });
        continue;
      }
      std::optional<model::Alert> stored;
      try {
        stored = store::get_alert(reader, a->alert_id);
      } catch (const store::StoreError& e) {
        spdlog::error("cluster: reading alert {}: {}", a->alert_id, e.what());
      }
      if (!stored) continue;
      for (auto& [key, o] : open_rule_alerts)
        if (match(o)) o->alert = *stored;
      for (auto& [device, o] : open_offline_alerts)
        if (match(o)) o->alert = *stored;
    }
  }
  hub.publish_remote(std::move(bodies));
}

void Engine::Impl::notify(Change change) {
  if (!partitioning || !partitioning->on_change) return;
  writer->submit([](store::Database&) {}, [this, change](bool ok) {
    if (ok) partitioning->on_change(change);
  }, store::Writer::Commit::prompt);
}

}  // namespace valtronics::engine
