// Devices and their stored status transitions. Field names follow the platform's models
// (shared/reference/platform-models.md); times are UTC time points.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "model/enums.hpp"
#include "util/time.hpp"

namespace valtronics::model {

struct Device {
  std::int64_t id = 0;
  std::string name;
  DeviceType device_type = DeviceType::sensor;
  std::string location, manufacturer, model, firmware_version;
  boost::json::object metadata;
  DeviceStatus status = DeviceStatus::offline;
  std::optional<util::TimePoint> last_seen;
  util::TimePoint created_at{}, updated_at{};
};

// One stored device status transition.
struct StatusChange {
  std::int64_t device_id = 0;
  DeviceStatus old_status = DeviceStatus::offline, new_status = DeviceStatus::offline;
  std::string reason;
  util::TimePoint timestamp{};
};

// A device's own report of its status (PUT /api/v1/devices/{id}/status, the demo simulator):
// metadata keys are merged into the device's metadata when the status changes.
struct StatusReport {
  DeviceStatus status = DeviceStatus::offline;
  std::string reason;
  boost::json::object metadata;
};

}  // namespace valtronics::model
