// Events: immutable facts published by the engine and fanned out by the hub. An event is created
// once, shared by pointer with every shard, and serialized once per distinct projection.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "protocol/messages.hpp"
#include "util/time.hpp"

namespace valtronics::hub {

struct MetricReading {
  std::string name;   // [a-z0-9_.-]{1,64}
  double value = 0;
  std::string unit;   // may be empty: then no "unit" key is sent
  util::TimePoint timestamp;
};

struct TelemetryEvent {
  std::int64_t device_id = 0;
  std::vector<MetricReading> readings;  // one device, one or more metrics
};

struct AlertEvent {
  std::int64_t alert_id = 0;
  std::int64_t device_id = 0;
  std::string severity;    // info, warning, critical
  std::string alert_type;  // threshold, anomaly, device, system
  std::string title;
  std::string message;
  std::string status = "active";  // active, acknowledged, resolved
  util::TimePoint timestamp;
  boost::json::object metadata;   // threshold_value, actual_value, metric, rule_id, ...
};

struct DeviceStatusEvent {
  std::int64_t device_id = 0;
  std::string old_status;
  std::string new_status;
  std::string reason;
  util::TimePoint timestamp;
  std::optional<util::TimePoint> last_seen;  // sent as metadata.last_seen
};

struct SystemEvent {
  std::vector<std::pair<std::string, double>> metrics;  // cpu_usage, memory_usage, ...
  util::TimePoint timestamp;
};

using EventBody = std::variant<TelemetryEvent, AlertEvent, DeviceStatusEvent, SystemEvent>;

struct Event {
  std::uint64_t id = 0;              // set by the hub at publish: strictly increasing
  protocol::Channel channel{};
  EventBody body;
  // Full serialization (no projection), made once at publish and shared by every receiver.
  std::shared_ptr<const std::string> full_bytes;

  std::int64_t device_id() const;    // 0 for system events
};

using EventPtr = std::shared_ptr<const Event>;

}  // namespace valtronics::hub
