// Telemetry and status snapshots for subscriptions that ask for current state first. Both are
// read on the engine thread, which publishes every telemetry and status event in the order the
// state changes: each such event up to the hub's last published id (`as_of`) is reflected in
// the snapshot, and none after it.
#include <algorithm>

#include "auth/policy.hpp"
#include "engine/engine_impl.hpp"

namespace valtronics::engine {

void Engine::telemetry_snapshot(protocol::Filters filters, auth::Claims claims,
                                Reply<model::Snapshot<model::TelemetryEvent>> reply) {
  impl_->call(&Impl::telemetry_snapshot, std::move(filters), std::move(claims), std::move(reply));
}

void Engine::status_snapshot(protocol::Filters filters, auth::Claims claims,
                             Reply<model::Snapshot<model::DeviceStatusEvent>> reply) {
  impl_->call(&Impl::status_snapshot, std::move(filters), std::move(claims), std::move(reply));
}

void Engine::Impl::telemetry_snapshot(protocol::Filters filters, auth::Claims claims,
                                      Reply<model::Snapshot<model::TelemetryEvent>> reply) {
  refresh_unowned(filters.device_ids);
  model::Snapshot<model::TelemetryEvent> snap;
  snap.as_of = hub.published();
  for (const auto& [device, metrics] : latest) {
    if (!model::empty_or_contains(filters.device_ids, device) ||
        !auth::may_see_device(claims, device))
      continue;
    model::TelemetryEvent e{device, {}};
    for (const auto& [name, v] : metrics) {
      // filters.metrics is normalized (sorted, unique) by the protocol parser.
      if (!filters.metrics.empty() &&
          !std::binary_search(filters.metrics.begin(), filters.metrics.end(), name))
        continue;
      e.readings.push_back({name, v.value, v.unit, v.timestamp});
    }
    if (!e.readings.empty()) snap.items.push_back(std::move(e));
  }
  reply(std::move(snap));
}

void Engine::Impl::status_snapshot(protocol::Filters filters, auth::Claims claims,
                                   Reply<model::Snapshot<model::DeviceStatusEvent>> reply) {
  refresh_unowned(filters.device_ids);
  model::Snapshot<model::DeviceStatusEvent> snap;
  snap.as_of = hub.published();
  const auto now = util::Clock::now();
  for (const auto& [id, d] : devices) {
    if (!model::empty_or_contains(filters.device_ids, id) || !auth::may_see_device(claims, id))
      continue;
    if (!model::empty_or_contains(filters.status_types, d.status)) continue;
    model::DeviceStatusEvent e;
    e.device_id = id;
    e.old_status = e.new_status = d.status;
    e.reason = "snapshot";
    e.timestamp = now;
    e.last_seen = d.last_seen;
    snap.items.push_back(std::move(e));
  }
  reply(std::move(snap));
}

}  // namespace valtronics::engine
