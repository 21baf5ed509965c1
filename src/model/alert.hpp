// Alert rules and alerts. An alert's id comes from the database and strictly increases; its
// status only moves forward (AlertStatus).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/enums.hpp"
#include "util/time.hpp"

namespace valtronics::model {

struct AlertRule {
  std::int64_t id = 0;
  std::string name;
  std::optional<std::int64_t> device_id;    // this device only
  std::optional<DeviceType> device_type;    // or every device of this type; neither: all devices
  std::string metric;
  Condition condition = Condition::gt;
  double threshold = 0;
  Severity severity = Severity::warning;
  AlertType alert_type = AlertType::threshold;
  std::chrono::milliseconds duration{0};    // must hold this long before firing
  std::chrono::milliseconds cooldown{0};    // after resolving, no new alert for this long
  bool enabled = true;
  util::TimePoint created_at{}, updated_at{};
};

struct Alert {
  std::int64_t id = 0;                      // from the database, strictly increasing
  std::int64_t device_id = 0;
  Severity severity = Severity::warning;
  AlertType alert_type = AlertType::threshold;
  std::string title, message;
  AlertStatus status = AlertStatus::active;
  util::TimePoint timestamp{};              // raised at
  boost::json::object metadata;             // threshold_value, actual_value, metric, rule_id
  std::optional<std::int64_t> rule_id;
  std::optional<util::TimePoint> acknowledged_at, resolved_at;
  std::string acknowledged_by, resolved_by, notes;
};

// Stored alerts after an id, for a since_alert_id replay: the matching ones in id order, and
// whether history reached back far enough (false: some alerts after the id were pruned or lie
// beyond the replay limit; `oldest_available` says where history starts).
struct AlertReplay {
  std::vector<Alert> alerts;
  bool complete = true;
  std::int64_t oldest_available = 0;
};

}  // namespace valtronics::model
