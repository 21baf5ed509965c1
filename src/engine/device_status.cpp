// Device status transitions (rules in device_status.hpp). Only transition() changes a status, so
// every change is reported exactly once and "X -> X" is never reported.
#include "engine/device_status.hpp"

#include <utility>

namespace valtronics::engine {

using model::DeviceStatus;

namespace {
constexpr const char* kTelemetryReason = "Telemetry received";
constexpr const char* kCriticalReason = "Critical alert active";
constexpr const char* kCriticalResolvedReason = "Critical alerts resolved";
}  // namespace

DeviceStatusTracker::DeviceStatusTracker(std::chrono::milliseconds offline_after,
                                         bool critical_sets_warning)
    : offline_after_(offline_after), critical_sets_warning_(critical_sets_warning) {}

void DeviceStatusTracker::track(std::int64_t device_id, DeviceStatus status,
                                std::optional<util::TimePoint> last_seen) {
  Entry& e = devices_[device_id];
  e.status = status;
  e.last_seen = last_seen;
  e.warning_from_alert = false;
  e.silent_since.reset();
}

void DeviceStatusTracker::forget(std::int64_t device_id) { devices_.erase(device_id); }

void DeviceStatusTracker::restore_critical(std::int64_t device_id, std::int64_t alert_id) {
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return;
  it->second.critical_alerts.insert(alert_id);
  if (critical_sets_warning_ && it->second.status == DeviceStatus::warning)
    it->second.warning_from_alert = true;
}

std::optional<StatusTransition> DeviceStatusTracker::transition(std::int64_t id, Entry& e,
                                                                DeviceStatus to, std::string reason,
                                                                util::TimePoint at) {
  if (e.status == to) return std::nullopt;
  StatusTransition t;
  t.change.device_id = id;
  t.change.old_status = e.status;
  t.change.new_status = to;
  t.change.reason = std::move(reason);
  t.change.timestamp = at;
  t.last_seen = e.last_seen;
  e.status = to;
  e.warning_from_alert = false;
  return t;
}

std::optional<StatusTransition> DeviceStatusTracker::on_telemetry(std::int64_t device_id,
                                                                  util::TimePoint at) {
  auto [it, inserted] = devices_.try_emplace(device_id);
  Entry& e = it->second;
  if (inserted) e.status = DeviceStatus::offline;
  if (!e.last_seen || *e.last_seen < at) e.last_seen = at;
  e.silent_since.reset();
  if (e.status != DeviceStatus::offline) return std::nullopt;
  return transition(device_id, e, DeviceStatus::online, kTelemetryReason, at);
}

std::optional<StatusTransition> DeviceStatusTracker::on_report(std::int64_t device_id,
                                                               DeviceStatus status,
                                                               const std::string& reason,
                                                               util::TimePoint at) {
  auto [it, inserted] = devices_.try_emplace(device_id);
  Entry& e = it->second;
  if (inserted) e.status = DeviceStatus::offline;
  e.silent_since.reset();
  return transition(device_id, e, status, reason.empty() ? "Status reported" : reason, at);
}

std::optional<StatusTransition> DeviceStatusTracker::on_critical_alert(std::int64_t device_id,
                                                                       std::int64_t alert_id,
                                                                       util::TimePoint at) {
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return std::nullopt;
  Entry& e = it->second;
  e.critical_alerts.insert(alert_id);
  if (!critical_sets_warning_ || e.status != DeviceStatus::online) return std::nullopt;
  auto t = transition(device_id, e, DeviceStatus::warning, kCriticalReason, at);
  e.warning_from_alert = true;
  return t;
}

std::optional<StatusTransition> DeviceStatusTracker::on_critical_resolved(std::int64_t device_id,
                                                                          std::int64_t alert_id,
                                                                          util::TimePoint at) {
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return std::nullopt;
  Entry& e = it->second;
  e.critical_alerts.erase(alert_id);
  if (!e.critical_alerts.empty()) return std::nullopt;
  const bool back = e.warning_from_alert && e.status == DeviceStatus::warning;
  e.warning_from_alert = false;
  if (!back) return std::nullopt;
  return transition(device_id, e, DeviceStatus::online, kCriticalResolvedReason, at);
}

std::vector<StatusTransition> DeviceStatusTracker::check_offline(util::TimePoint now) {
  std::vector<StatusTransition> out;
  const std::string reason = "No telemetry for " + util::format_duration(offline_after_);
  for (auto& [id, e] : devices_) {
    if (e.status != DeviceStatus::online && e.status != DeviceStatus::warning &&
        e.status != DeviceStatus::error)
      continue;
    util::TimePoint since;
    if (e.last_seen) {
      since = *e.last_seen;
    } else {
      // Never seen (e.g. created with status online): the silence is counted from the first
      // check that saw it.
      if (!e.silent_since) e.silent_since = now;
      since = *e.silent_since;
    }
    if (now - since > offline_after_) {
      e.silent_since.reset();
      if (auto t = transition(id, e, DeviceStatus::offline, reason, now))
        out.push_back(std::move(*t));
    }
  }
  return out;
}

std::optional<DeviceStatus> DeviceStatusTracker::status(std::int64_t device_id) const {
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return std::nullopt;
  return it->second.status;
}

std::optional<util::TimePoint> DeviceStatusTracker::last_seen(std::int64_t device_id) const {
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return std::nullopt;
  return it->second.last_seen;
}

}  // namespace valtronics::engine
