// The device registry: create, read, list (within the token's devices), update, delete; status
// reports; and status transitions, each stored and published in the order the status changed,
// with the offline alert they raise or resolve.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/serialize.hpp>

#include "auth/policy.hpp"
#include "config/limits.hpp"
#include "engine/alert_text.hpp"
#include "engine/engine_impl.hpp"
#include "engine/partition.hpp"

namespace valtronics::engine {

using model::Device;
using model::DeviceStatus;

// ---- Engine: post to the engine thread ----

void Engine::device_status_counts(Reply<std::array<std::uint64_t, 5>> reply) {
  impl_->post([impl = impl_.get(), reply = std::move(reply)] {
    std::array<std::uint64_t, 5> counts{};
    for (const auto& [id, d] : impl->devices) ++counts[static_cast<std::size_t>(d.status)];
    reply(counts);
  });
}

void Engine::list_devices(DeviceQuery q, auth::Claims claims,
                          Reply<model::Result<Page<Device>>> reply) {
  impl_->call(&Impl::list_devices, q, std::move(claims), std::move(reply));
}
void Engine::get_device(std::int64_t id, auth::Claims claims, Reply<model::Result<Device>> reply) {
  impl_->call(&Impl::get_device, id, std::move(claims), std::move(reply));
}
void Engine::create_device(Device d, Reply<model::Result<Device>> reply) {
  impl_->call(&Impl::create_device, std::move(d), std::move(reply));
}
void Engine::update_device(std::int64_t id, std::function<model::Result<void>(Device&)> patch,
                           Reply<model::Result<Device>> reply) {
  impl_->call(&Impl::update_device, id, std::move(patch), std::move(reply));
}
void Engine::delete_device(std::int64_t id, Reply<model::Result<Device>> reply) {
  impl_->call(&Impl::delete_device, id, std::move(reply));
}
void Engine::report_status(std::int64_t id, model::StatusReport report,
                           Reply<model::Result<Device>> reply) {
  impl_->call(&Impl::report_status, id, std::move(report), std::move(reply));
}

// ---- on the engine thread ----

void Engine::Impl::list_devices(DeviceQuery q, auth::Claims claims,
                                Reply<model::Result<Page<Device>>> reply) {
  refresh_unowned({});
  Page<Device> page;
  std::size_t index = 0;
  const std::size_t first = (q.page - 1) * q.size;
  for (const auto& [id, d] : devices) {
    if (!auth::may_see_device(claims, id)) continue;
    if (q.status && d.status != *q.status) continue;
    if (q.device_type && d.device_type != *q.device_type) continue;
    if (index >= first && page.items.size() < q.size) page.items.push_back(d);
    ++index;
  }
  page.total = index;
  reply(std::move(page));
}

void Engine::Impl::get_device(std::int64_t id, auth::Claims claims,
                              Reply<model::Result<Device>> reply) {
  refresh_unowned({id});
  auto it = devices.find(id);
  // A device the token does not cover is reported as absent: its existence is not disclosed.
  if (it == devices.end() || !auth::may_see_device(claims, id))
    return reply(model::not_found("device", id));
  reply(it->second);
}

void Engine::Impl::create_device(Device d, Reply<model::Result<Device>> reply) {
  if (d.id != 0 && devices.count(d.id)) {
    return reply(model::DomainError{model::DomainError::Kind::conflict,
                                    "device " + std::to_string(d.id) + " already exists", "id",
                                    {}});
  }
  d.created_at = d.updated_at = util::Clock::now();
  if (partitioning) {
    // Nodes create devices concurrently: the shared database decides, at once, and picks the
    // id when none is given (cluster.cpp: the others read it on the change notice).
    try {
      store::Transaction tx(reader);
      store::lock_device_ids(reader);
      d.id = store::insert_device(reader, d);
      tx.commit();
    } catch (const store::StoreError& e) {
      bool exists = false;
      try {
        for (const auto& s : store::load_devices(reader)) exists = exists || (d.id && s.id == d.id);
      } catch (const store::StoreError&) {
      }
      if (exists)
        return reply(model::DomainError{model::DomainError::Kind::conflict,
                                        "device " + std::to_string(d.id) + " already exists",
                                        "id", {}});
      spdlog::error("create device: {}", e.what());
      return reply(model::DomainError{model::DomainError::Kind::internal,
                                      "could not store the device", {}, {}});
    }
  } else if (d.id == 0) {
    d.id = next_device_id;
  }
  next_device_id = std::max(next_device_id, d.id + 1);
  devices[d.id] = d;
  if (owns(d.id)) tracker.track(d.id, d.status, d.last_seen);
  if (!partitioning) writer->submit([d](store::Database& db) { store::insert_device(db, d); });
  notify({Change::Kind::device, d.id});
  reply_after_commit<model::Result<Device>>(std::move(reply), d);
}

void Engine::Impl::update_device(std::int64_t id,
                                 std::function<model::Result<void>(Device&)> patch,
                                 Reply<model::Result<Device>> reply) {
  auto it = devices.find(id);
  if (it == devices.end()) return reply(model::not_found("device", id));
  Device updated = it->second;
  if (auto r = patch(updated); !r) return reply(r.error());
  updated.id = id;
  updated.updated_at = util::Clock::now();
  it->second = updated;
  writer->submit([updated](store::Database& db) { store::update_device(db, updated); });
  notify({Change::Kind::device, id});
  reply_after_commit<model::Result<Device>>(std::move(reply), updated);
}

void Engine::Impl::delete_device(std::int64_t id, Reply<model::Result<Device>> reply) {
  auto it = devices.find(id);
  if (it == devices.end()) return reply(model::not_found("device", id));
  Device gone = std::move(it->second);
  devices.erase(it);
  tracker.forget(id);
  evaluator.forget_device(id);
  latest.erase(id);
  std::erase_if(unwritten_latest, [id](const auto& kv) { return kv.first.first == id; });
  unwritten_last_seen.erase(id);
  // Its history still to be written goes too (rows already queued are deleted by the delete
  // below, which the writer runs after them).
  const auto before = unwritten_history.size();
  std::erase_if(unwritten_history, [id](const model::MetricValue& v) { return v.device_id == id; });
  history_backlog.fetch_sub(before - unwritten_history.size(), std::memory_order_relaxed);
  // Its open alerts resolve: nothing will ever clear them otherwise. (The alerts are kept.)
  const auto now = util::Clock::now();
  for (auto o = open_rule_alerts.begin(); o != open_rule_alerts.end();) {
    if (o->first.second == id) {
      resolve_open_alert(o->second, "system", "device deleted", now);
      o = open_rule_alerts.erase(o);
    } else {
      ++o;
    }
  }
  if (auto o = open_offline_alerts.find(id); o != open_offline_alerts.end()) {
    resolve_open_alert(o->second, "system", "device deleted", now);
    open_offline_alerts.erase(o);
  }
  writer->submit([id](store::Database& db) { store::delete_device(db, id); });
  notify({Change::Kind::device, id});
  reply_after_commit<model::Result<Device>>(std::move(reply), gone);
}

void Engine::Impl::report_status(std::int64_t id, model::StatusReport report,
                                 Reply<model::Result<Device>> reply) {
  if (!owns(id)) {
    // Its owner tracks its status (cluster.cpp): it applies the report, then this node reads
    // the record back.
    partitioning->forwarder->forward_report(
        partition_of(id, partitioning->count), id, std::move(report),
        [this, id, reply = std::move(reply)](model::Result<void> r) mutable {
          post([this, id, r, reply = std::move(reply)] {
            if (!r) return reply(r.error());
            reload({Change::Kind::device, id});
            auto it = devices.find(id);
            if (it == devices.end()) return reply(model::not_found("device", id));
            reply(it->second);
          });
        });
    return;
  }
  auto it = devices.find(id);
  if (it == devices.end()) return reply(model::not_found("device", id));
  // Reports merge their metadata into the device's: bounded after the merge too, else many
  // reports with new keys would grow it without end.
  if (!report.metadata.empty()) {
    auto merged = it->second.metadata;
    for (const auto& [k, v] : report.metadata) merged[k] = v;
    if (boost::json::serialize(merged).size() > limits::kMaxMetadataBytes)
      return reply(model::invalid(
          "metadata", "metadata: the device's metadata would exceed " +
                          std::to_string(limits::kMaxMetadataBytes) + " bytes of JSON"));
  }
  auto t = tracker.on_report(id, report.status, report.reason, util::Clock::now());
  if (t && !report.metadata.empty()) {
    for (const auto& [k, v] : report.metadata) it->second.metadata[k] = v;
    writer->submit([d = it->second](store::Database& db) { store::update_device(db, d); });
    notify({Change::Kind::device, id});
  }
  apply_status_transition(t);
  reply_after_commit<model::Result<Device>>(std::move(reply), it->second);
}

std::map<std::int64_t, Device>::iterator Engine::Impl::register_device(std::int64_t id,
                                                                       util::TimePoint now) {
  Device d;
  d.id = id;
  d.name = "Device " + std::to_string(id);
  d.status = DeviceStatus::offline;
  d.created_at = d.updated_at = now;
  d.metadata["auto_registered"] = true;
  next_device_id = std::max(next_device_id, id + 1);
  writer->submit([d](store::Database& db) { store::insert_device_if_absent(db, d); });
  tracker.track(id, d.status, std::nullopt);
  notify({Change::Kind::device, id});
  spdlog::info("device {} registered by its first telemetry", id);
  return devices.emplace(id, std::move(d)).first;
}

void Engine::Impl::apply_status_transition(const std::optional<StatusTransition>& t) {
  if (!t) return;
  const auto& c = t->change;
  auto it = devices.find(c.device_id);
  if (it == devices.end()) return;
  it->second.status = c.new_status;
  it->second.updated_at = c.timestamp;
  writer->submit([c, last_seen = t->last_seen](store::Database& db) {
    store::update_device_status(db, c.device_id, c.new_status, last_seen, c.timestamp);
    store::insert_status_change(db, c);
  });
  // Published from here, in the order of the state changes, so that a status snapshot (read on
  // this thread) and the transitions around it never contradict each other.
  model::DeviceStatusEvent e;
  e.device_id = c.device_id;
  e.old_status = c.old_status;
  e.new_status = c.new_status;
  e.reason = alert_text::reason(c.reason);  // bounded (engine/message_bounds)
  e.timestamp = c.timestamp;
  e.last_seen = t->last_seen;
  hub.publish(std::move(e));
  if (!cfg.devices.offline_alert) return;
  if (c.new_status == DeviceStatus::offline && !open_offline_alerts.count(c.device_id)) {
    model::Alert a;
    a.device_id = c.device_id;
    a.severity = model::Severity::warning;
    a.alert_type = model::AlertType::device;
    a.title = "Device Offline";
    a.message = alert_text::offline(it->second.name, c.reason);  // bounded parts
    a.timestamp = c.timestamp;
    if (t->last_seen) a.metadata["last_seen"] = util::iso8601(*t->last_seen);
    a.metadata["reason"] = alert_text::reason(c.reason);
    open_offline_alerts[c.device_id] = raise_alert(std::move(a));
  } else if (c.old_status == DeviceStatus::offline && c.new_status != DeviceStatus::offline) {
    if (auto o = open_offline_alerts.find(c.device_id); o != open_offline_alerts.end()) {
      resolve_open_alert(o->second, "system", "", c.timestamp);
      open_offline_alerts.erase(o);
    }
  }
}

}  // namespace valtronics::engine
