// A connection's subscriptions, keyed by (channel, device), and the pure decisions made on them:
// which subscription accepts an event, and what a connection wants of one device's telemetry.
#pragma once

#include <algorithm>
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hub/event.hpp"
#include "hub/shard.hpp"
#include "model/enums.hpp"
#include "protocol/messages.hpp"

namespace valtronics::session {

struct SubKey {
  model::Channel channel;
  std::int64_t device;  // hub::kAllDevices for "every device"
  auto operator<=>(const SubKey&) const = default;
};
using Subscriptions = std::map<SubKey, protocol::Filters>;

// Calls fn(key, filters) for each subscription of `channel` that concerns `device`: its own and
// the one for every device; stops when fn returns false.
template <class Fn>
void for_each_concerning(const Subscriptions& subs, model::Channel channel, std::int64_t device,
                         Fn fn) {
  for (auto it = subs.lower_bound({channel, hub::kAllDevices});
       it != subs.end() && it->first.channel == channel; ++it) {
    if (it->first.device != hub::kAllDevices && it->first.device != device) continue;
    if (!fn(it->first, it->second)) return;
  }
}

// Whether a telemetry subscription's filters want `metric` (no `metrics` filter: every metric).
inline bool wants_metric(const protocol::Filters& f, const std::string& metric) {
  return f.metrics.empty() || std::binary_search(f.metrics.begin(), f.metrics.end(), metric);
}

// The filters of the first subscription of the event's channel, for its device or for every
// device, that accept `event` (severity and alert type for alerts, status for devices); nullptr
// when none does. Telemetry goes through telemetry_plan instead.
const protocol::Filters* match_event(const Subscriptions& subs, const hub::Event& event);

// What a connection wants of one device's telemetry: the union of what its matching
// subscriptions ask for. Every metric if any of them has no `metrics` filter; real-time if any of
// them is real-time, else the shortest `frequency`.
// `gated`: some matching subscription has deadband or crossing gates; `watched`: some has
// stale_after (both issue 15: then delivery goes through the connection's TelemetryWatch).
// `aggregate`: that of the throttled subscription with the shortest frequency.
struct TelemetryPlan {
  bool matched = false, realtime = false, gated = false, watched = false;
  std::vector<std::string> metrics;  // sorted, unique; empty = every metric
  std::chrono::milliseconds frequency = std::chrono::milliseconds::max();
  std::optional<protocol::Aggregate> aggregate;
};
TelemetryPlan telemetry_plan(const Subscriptions& subs, std::int64_t device);

// The cache key of a projection: "t,<metric>,..." for telemetry, "s,..." for system.
std::string projection_key(char kind, std::span<const std::string> metrics);

}  // namespace valtronics::session
