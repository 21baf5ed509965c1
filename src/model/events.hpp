// Event bodies: the immutable facts the engine publishes and the hub fans out, one per channel.
// (The hub wraps a body in its Event with an id and the shared serialization.)
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "model/alert.hpp"
#include "model/enums.hpp"
#include "model/reading.hpp"
#include "util/time.hpp"

namespace valtronics::model {

struct TelemetryEvent {
  std::int64_t device_id = 0;
  std::vector<MetricReading> readings;  // one device, one or more metrics
};

struct AlertEvent {
  std::int64_t alert_id = 0;
  std::int64_t device_id = 0;
  Severity severity = Severity::warning;
  AlertType alert_type = AlertType::threshold;
  std::string title;
  std::string message;
  AlertStatus status = AlertStatus::active;
  util::TimePoint timestamp;
  boost::json::object metadata;   // threshold_value, actual_value, metric, rule_id, ...
};

struct DeviceStatusEvent {
  std::int64_t device_id = 0;
  DeviceStatus old_status = DeviceStatus::offline;
  DeviceStatus new_status = DeviceStatus::offline;
  std::string reason;
  util::TimePoint timestamp;
  std::optional<util::TimePoint> last_seen;  // sent as metadata.last_seen
};

struct SystemEvent {
  std::vector<std::pair<std::string, double>> metrics;  // cpu_usage, memory_usage, ...
  util::TimePoint timestamp;
};

// In the order of Channel: the body's index is its channel.
using EventBody = std::variant<TelemetryEvent, AlertEvent, DeviceStatusEvent, SystemEvent>;

constexpr Channel channel_of(const EventBody& body) { return static_cast<Channel>(body.index()); }
// The device an event is about (0 for system events).
std::int64_t device_of(const EventBody& body);

// The alerts channel's form of a stored alert.
AlertEvent to_alert_event(const Alert& a);

// A snapshot of current state and the hub event id it is current as of: events of its channel
// with an id up to `as_of` are already reflected in it.
template <class T>
struct Snapshot {
  std::vector<T> items;
  std::uint64_t as_of = 0;
};

}  // namespace valtronics::model
