// A connection's subscriptions, keyed by (channel, device), and the pure decisions made on them:
// which subscription accepts an event, and what a connection wants of one device's telemetry.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
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

// The filters of the first subscription of the event's channel, for its device or for every
// device, that accept `event` (severity and alert type for alerts, status for devices); nullptr
// when none does. Telemetry goes through telemetry_plan instead.
const protocol::Filters* match_event(const Subscriptions& subs, const hub::Event& event);

// What a connection wants of one device's telemetry: the union of what its matching
// subscriptions ask for. Every metric if any of them has no `metrics` filter; real-time if any of
// them is real-time, else the shortest `frequency`.
struct TelemetryPlan {
  bool matched = false, realtime = false;
  std::vector<std::string> metrics;  // sorted, unique; empty = every metric
  std::chrono::milliseconds frequency = std::chrono::milliseconds::max();
};
TelemetryPlan telemetry_plan(const Subscriptions& subs, std::int64_t device);

// The cache key of a projection: "t,<metric>,..." for telemetry, "s,..." for system.
std::string projection_key(char kind, const std::vector<std::string>& metrics);

}  // namespace valtronics::session
