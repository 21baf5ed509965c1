// Device status transitions, pure: events and clock ticks in, transitions out. The engine stores
// and publishes each transition exactly once.
//
// Rules (documented in docs/devices.md):
//  - Telemetry marks a device `online` when it is `offline` (a device in `maintenance`, `error`
//    or `warning` keeps its status: those are set by reports or alerts and cleared by them).
//  - No telemetry for `offline_after` marks an `online`, `warning` or `error` device `offline`
//    with reason "No telemetry for <offline_after>" and metadata.last_seen.
//  - An explicit report sets any status with its reason (a report of the current status is no
//    transition).
//  - When `critical_sets_warning`: an active critical alert turns an `online` device `warning`
//    ("Critical alert active"); when its last critical alert resolves, a `warning` device set so
//    goes back `online` ("Critical alerts resolved").
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "model/device.hpp"
#include "model/enums.hpp"

namespace valtronics::engine {

struct StatusTransition {
  model::StatusChange change;               // device, old, new, reason, timestamp
  std::optional<util::TimePoint> last_seen;
};

class DeviceStatusTracker {
 public:
  DeviceStatusTracker(std::chrono::milliseconds offline_after, bool critical_sets_warning);

  // Registers a device with its stored status and last_seen (start-up, create). No transition.
  void track(std::int64_t device_id, model::DeviceStatus status,
             std::optional<util::TimePoint> last_seen);
  void forget(std::int64_t device_id);

  std::optional<StatusTransition> on_telemetry(std::int64_t device_id, util::TimePoint at);
  std::optional<StatusTransition> on_report(std::int64_t device_id, model::DeviceStatus status,
                                            const std::string& reason, util::TimePoint at);
  std::optional<StatusTransition> on_critical_alert(std::int64_t device_id, std::int64_t alert_id,
                                                    util::TimePoint at);
  std::optional<StatusTransition> on_critical_resolved(std::int64_t device_id,
                                                       std::int64_t alert_id, util::TimePoint at);

  // Devices silent for longer than offline_after go offline (each once).
  std::vector<StatusTransition> check_offline(util::TimePoint now);

  // Added: after a restart, records a critical alert that is still open without a transition.
  // A device stored as `warning` is taken to be in warning because of it (when
  // critical_sets_warning), so it goes back `online` when its last critical alert resolves.
  void restore_critical(std::int64_t device_id, std::int64_t alert_id);

  std::optional<model::DeviceStatus> status(std::int64_t device_id) const;
  std::optional<util::TimePoint> last_seen(std::int64_t device_id) const;

 private:
  struct Entry {
    model::DeviceStatus status = model::DeviceStatus::offline;
    std::optional<util::TimePoint> last_seen;
    std::set<std::int64_t> critical_alerts;
    bool warning_from_alert = false;
    // Added: for a device never seen but in a status that can go offline, the first
    // check_offline() that saw it silent (its silence is counted from there).
    std::optional<util::TimePoint> silent_since;
  };
  std::optional<StatusTransition> transition(std::int64_t id, Entry& e, model::DeviceStatus to,
                                             std::string reason, util::TimePoint at);
  std::chrono::milliseconds offline_after_;
  bool critical_sets_warning_;
  std::map<std::int64_t, Entry> devices_;
};

}  // namespace valtronics::engine
