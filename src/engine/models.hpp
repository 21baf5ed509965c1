// The platform's domain records (devices, alert rules, alerts, latest metric values) as plain
// structs shared by the engine, the store and the REST layer. Field names follow the platform's
// models (shared/reference/platform-models.md); times are UTC time points.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/time.hpp"

namespace valtronics::engine {

// Device statuses, as on the wire.
inline constexpr std::string_view kDeviceStatuses[] = {"online", "offline", "warning", "error",
                                                       "maintenance"};
inline constexpr std::string_view kDeviceTypes[] = {"sensor", "actuator", "gateway", "controller",
                                                    "monitor"};
bool is_device_status(std::string_view s);
bool is_device_type(std::string_view s);

struct Device {
  std::int64_t id = 0;
  std::string name;
  std::string device_type = "sensor";
  std::string location, manufacturer, model, firmware_version;
  boost::json::object metadata;
  std::string status = "offline";
  std::optional<util::TimePoint> last_seen;
  util::TimePoint created_at{}, updated_at{};
};

enum class Condition { gt, gte, lt, lte, eq, ne };
std::string_view to_string(Condition c);
std::optional<Condition> condition_from_string(std::string_view s);

struct AlertRule {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::int64_t> device_id;    // this device only
  std::optional<std::string> device_type;   // or every device of this type; neither: all devices
  std::string metric;
  Condition condition = Condition::gt;
  double threshold = 0;
  std::string severity = "warning";         // info, warning, critical
  std::string alert_type = "threshold";     // threshold, device, system
  std::chrono::milliseconds duration{0};    // must hold this long before firing
  std::chrono::milliseconds cooldown{0};    // after resolving, no new alert for this long
  bool enabled = true;
  util::TimePoint created_at{}, updated_at{};
};

struct Alert {
  std::int64_t id = 0;                      // from the database, strictly increasing
  std::int64_t device_id = 0;
  std::string severity;                     // info, warning, critical
  std::string alert_type;                   // threshold, anomaly, device, system, manual
  std::string title, message;
  std::string status = "active";            // active, acknowledged, resolved
  util::TimePoint timestamp{};              // raised at
  boost::json::object metadata;             // threshold_value, actual_value, metric, rule_id
  std::optional<std::int64_t> rule_id;
  std::optional<util::TimePoint> acknowledged_at, resolved_at;
  std::string acknowledged_by, resolved_by, notes;
};

// Latest value of one metric of one device.
struct MetricValue {
  std::int64_t device_id = 0;
  std::string metric;
  double value = 0;
  std::string unit;
  util::TimePoint timestamp{};
};

// One stored device status transition.
struct StatusChange {
  std::int64_t device_id = 0;
  std::string old_status, new_status, reason;
  util::TimePoint timestamp{};
};

}  // namespace valtronics::engine
