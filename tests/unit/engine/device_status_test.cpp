// Tests of device status transitions: telemetry, offline detection (once per silence, after a
// restart, never-seen devices), explicit reports, maintenance, critical alerts setting warning
// and back, and that no transition is ever reported twice or as "X -> X".
#include "engine/device_status.hpp"

#include <gtest/gtest.h>

namespace valtronics::engine {
namespace {

using namespace std::chrono_literals;
using model::DeviceStatus;

const util::TimePoint T0 = util::TimePoint{} + 1'704'110'400s;  // 2024-01-01T12:00:00Z

void expect_change(const std::optional<StatusTransition>& t, std::int64_t id,
                   std::string_view from, std::string_view to, std::string_view reason) {
  ASSERT_TRUE(t.has_value()) << from << " -> " << to;
  EXPECT_EQ(t->change.device_id, id);
  EXPECT_EQ(model::to_string(t->change.old_status), from);
  EXPECT_EQ(model::to_string(t->change.new_status), to);
  EXPECT_EQ(t->change.reason, reason);
}

TEST(DeviceStatus, TelemetryMarksOfflineDeviceOnline) {
  DeviceStatusTracker tr(5min, true);
  tr.track(1, DeviceStatus::offline, std::nullopt);
  auto t = tr.on_telemetry(1, T0);
  expect_change(t, 1, "offline", "online", "Telemetry received");
  EXPECT_EQ(t->change.timestamp, T0);
  EXPECT_EQ(t->last_seen, T0);
  EXPECT_EQ(tr.status(1), DeviceStatus::online);
  EXPECT_EQ(tr.last_seen(1), T0);
  EXPECT_FALSE(tr.on_telemetry(1, T0 + 1s).has_value());  // once
  EXPECT_EQ(tr.last_seen(1), T0 + 1s);
}

TEST(DeviceStatus, TelemetryKeepsMaintenanceErrorAndWarning) {
  DeviceStatusTracker tr(5min, true);
  tr.track(1, DeviceStatus::maintenance, std::nullopt);
  tr.track(2, DeviceStatus::error, std::nullopt);
  tr.track(3, DeviceStatus::warning, std::nullopt);
  for (std::int64_t id : {1, 2, 3}) {
    EXPECT_FALSE(tr.on_telemetry(id, T0).has_value());
    EXPECT_EQ(tr.last_seen(id), T0);
  }
  EXPECT_EQ(tr.status(1), DeviceStatus::maintenance);
  EXPECT_EQ(tr.status(2), DeviceStatus::error);
  EXPECT_EQ(tr.status(3), DeviceStatus::warning);
}

TEST(DeviceStatus, LastSeenNeverGoesBackwards) {
  DeviceStatusTracker tr(5min, true);
  tr.track(1, DeviceStatus::online, T0);
  tr.on_telemetry(1, T0 - 1min);
  EXPECT_EQ(tr.last_seen(1), T0);
}

TEST(DeviceStatus, UntrackedDeviceTelemetryIsTrackedAsComingOnline) {
  DeviceStatusTracker tr(5min, true);
  EXPECT_FALSE(tr.status(4).has_value());
  expect_change(tr.on_telemetry(4, T0), 4, "offline", "online", "Telemetry received");
}

TEST(DeviceStatus, OfflineAfterSilenceOncePerSilence) {
  DeviceStatusTracker tr(5min, true);
  tr.track(1, DeviceStatus::offline, std::nullopt);
  tr.on_telemetry(1, T0);
  EXPECT_TRUE(tr.check_offline(T0 + 5min).empty());  // exactly the threshold: not yet
  auto v = tr.check_offline(T0 + 5min + 1s);
  ASSERT_EQ(v.size(), 1u);
  expect_change(v[0], 1, "online", "offline", "No telemetry for 5m");
  EXPECT_EQ(v[0].last_seen, T0);
  EXPECT_EQ(v[0].change.timestamp, T0 + 5min + 1s);
  EXPECT_TRUE(tr.check_offline(T0 + 6min).empty());
  EXPECT_TRUE(tr.check_offline(T0 + 1h).empty());
  // back online, silent again: offline again, once
  expect_change(tr.on_telemetry(1, T0 + 2h), 1, "offline", "online", "Telemetry received");
  EXPECT_TRUE(tr.check_offline(T0 + 2h + 4min).empty());
  EXPECT_EQ(tr.check_offline(T0 + 2h + 6min).size(), 1u);
  EXPECT_TRUE(tr.check_offline(T0 + 2h + 7min).empty());
}

TEST(DeviceStatus, TelemetryPostponesOffline) {
  DeviceStatusTracker tr(10s, true);
  tr.track(1, DeviceStatus::online, T0);
  for (int i = 1; i <= 10; ++i) {
    tr.on_telemetry(1, T0 + i * 5s);
    EXPECT_TRUE(tr.check_offline(T0 + i * 5s + 9s).empty());
  }
}

TEST(DeviceStatus, ReasonUsesTheConfiguredThreshold) {
  DeviceStatusTracker tr(30s, true);
  tr.track(1, DeviceStatus::online, T0);
  auto v = tr.check_offline(T0 + 31s);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].change.reason, "No telemetry for 30s");
  DeviceStatusTracker tr2(1500ms, true);
  tr2.track(1, DeviceStatus::online, T0);
  EXPECT_EQ(tr2.check_offline(T0 + 2s).at(0).change.reason, "No telemetry for 1500ms");
}

TEST(DeviceStatus, WarningAndErrorDevicesGoOfflineMaintenanceDoesNot) {
  DeviceStatusTracker tr(1min, true);
  tr.track(1, DeviceStatus::warning, T0);
  tr.track(2, DeviceStatus::error, T0);
  tr.track(3, DeviceStatus::maintenance, T0);
  tr.track(4, DeviceStatus::offline, T0);
  tr.track(5, DeviceStatus::online, T0);
  auto v = tr.check_offline(T0 + 2min);
  ASSERT_EQ(v.size(), 3u);
  expect_change(v[0], 1, "warning", "offline", "No telemetry for 1m");
  expect_change(v[1], 2, "error", "offline", "No telemetry for 1m");
  expect_change(v[2], 5, "online", "offline", "No telemetry for 1m");
  EXPECT_EQ(tr.status(3), DeviceStatus::maintenance);
  EXPECT_EQ(tr.status(4), DeviceStatus::offline);
}

TEST(DeviceStatus, RestartSilentDevicesGoOfflineOnceAtFirstCheck) {
  // Stored state reloaded after a restart: device 1 was last seen an hour ago, device 2 a
  // minute ago, device 3 was already offline. Tracking emits nothing.
  DeviceStatusTracker tr(5min, true);
  const auto restart = T0 + 1h;
  tr.track(1, DeviceStatus::online, T0);
  tr.track(2, DeviceStatus::online, restart - 1min);
  tr.track(3, DeviceStatus::offline, T0);
  auto v = tr.check_offline(restart);
  ASSERT_EQ(v.size(), 1u);
  expect_change(v[0], 1, "online", "offline", "No telemetry for 5m");
  EXPECT_EQ(v[0].last_seen, T0);
  EXPECT_TRUE(tr.check_offline(restart + 1s).empty());
  auto later = tr.check_offline(restart + 4min + 1s);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].change.device_id, 2);
  EXPECT_TRUE(tr.check_offline(restart + 1h).empty());
}

TEST(DeviceStatus, NeverSeenOnlineDeviceGoesOfflineAfterThresholdFromFirstCheck) {
  DeviceStatusTracker tr(1min, true);
  tr.track(1, DeviceStatus::online, std::nullopt);
  EXPECT_TRUE(tr.check_offline(T0).empty());
  EXPECT_TRUE(tr.check_offline(T0 + 1min).empty());
  auto v = tr.check_offline(T0 + 61s);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].last_seen.has_value());
  EXPECT_TRUE(tr.check_offline(T0 + 1h).empty());
}

TEST(DeviceStatus, TrackReplacesAndForgetDrops) {
  DeviceStatusTracker tr(1min, true);
  tr.track(1, DeviceStatus::online, T0);
  tr.track(1, DeviceStatus::maintenance, T0 + 1s);
  EXPECT_EQ(tr.status(1), DeviceStatus::maintenance);
  EXPECT_EQ(tr.last_seen(1), T0 + 1s);
  tr.forget(1);
  EXPECT_FALSE(tr.status(1).has_value());
  EXPECT_FALSE(tr.last_seen(1).has_value());
  EXPECT_TRUE(tr.check_offline(T0 + 1h).empty());
}

TEST(DeviceStatus, ReportSetsAnyStatusWithItsReason) {
  DeviceStatusTracker tr(1min, true);
  tr.track(1, DeviceStatus::online, T0);
  auto t = tr.on_report(1, DeviceStatus::maintenance, "Scheduled calibration", T0 + 1s);
  expect_change(t, 1, "online", "maintenance", "Scheduled calibration");
  EXPECT_EQ(t->change.timestamp, T0 + 1s);
  EXPECT_EQ(t->last_seen, T0);
  EXPECT_FALSE(tr.on_report(1, DeviceStatus::maintenance, "again", T0 + 2s).has_value());
  expect_change(tr.on_report(1, DeviceStatus::error, "Sensor fault", T0 + 3s), 1, "maintenance", "error",
                "Sensor fault");
  expect_change(tr.on_report(1, DeviceStatus::warning, "", T0 + 4s), 1, "error", "warning", "Status reported");
  expect_change(tr.on_report(1, DeviceStatus::offline, "Powered down", T0 + 5s), 1, "warning", "offline",
                "Powered down");
  expect_change(tr.on_report(1, DeviceStatus::online, "Back", T0 + 6s), 1, "offline", "online", "Back");
}

TEST(DeviceStatus, MaintenanceKeptOnTelemetryAndNotTakenOffline) {
  DeviceStatusTracker tr(1min, true);
  tr.track(1, DeviceStatus::online, T0);
  tr.on_report(1, DeviceStatus::maintenance, "Servicing", T0);
  EXPECT_FALSE(tr.on_telemetry(1, T0 + 10s).has_value());
  EXPECT_TRUE(tr.check_offline(T0 + 1h).empty());
  EXPECT_EQ(tr.status(1), DeviceStatus::maintenance);
  EXPECT_FALSE(tr.on_critical_alert(1, 7, T0 + 1h).has_value());
  EXPECT_EQ(tr.status(1), DeviceStatus::maintenance);
  expect_change(tr.on_report(1, DeviceStatus::online, "Done", T0 + 2h), 1, "maintenance", "online", "Done");
}

TEST(DeviceStatus, CriticalAlertSetsWarningAndBack) {
  DeviceStatusTracker tr(1h, true);
  tr.track(1, DeviceStatus::online, T0);
  expect_change(tr.on_critical_alert(1, 10, T0 + 1s), 1, "online", "warning",
                "Critical alert active");
  EXPECT_FALSE(tr.on_critical_alert(1, 11, T0 + 2s).has_value());
  EXPECT_FALSE(tr.on_telemetry(1, T0 + 3s).has_value());  // warning kept on telemetry
  EXPECT_FALSE(tr.on_critical_resolved(1, 10, T0 + 4s).has_value());  // 11 still active
  EXPECT_EQ(tr.status(1), DeviceStatus::warning);
  auto t = tr.on_critical_resolved(1, 11, T0 + 5s);
  expect_change(t, 1, "warning", "online", "Critical alerts resolved");
  EXPECT_EQ(t->change.timestamp, T0 + 5s);
  EXPECT_FALSE(tr.on_critical_resolved(1, 11, T0 + 6s).has_value());
}

TEST(DeviceStatus, CriticalAlertDisabledByConfig) {
  DeviceStatusTracker tr(1h, false);
  tr.track(1, DeviceStatus::online, T0);
  EXPECT_FALSE(tr.on_critical_alert(1, 10, T0).has_value());
  EXPECT_FALSE(tr.on_critical_resolved(1, 10, T0).has_value());
  EXPECT_EQ(tr.status(1), DeviceStatus::online);
}

TEST(DeviceStatus, ReportedWarningIsNotClearedByAlertResolution) {
  DeviceStatusTracker tr(1h, true);
  tr.track(1, DeviceStatus::online, T0);
  tr.on_report(1, DeviceStatus::warning, "Battery low", T0);
  EXPECT_FALSE(tr.on_critical_alert(1, 10, T0 + 1s).has_value());
  EXPECT_FALSE(tr.on_critical_resolved(1, 10, T0 + 2s).has_value());
  EXPECT_EQ(tr.status(1), DeviceStatus::warning);
}

TEST(DeviceStatus, ReportDuringAlertWarningIsNotUndoneByResolution) {
  DeviceStatusTracker tr(1h, true);
  tr.track(1, DeviceStatus::online, T0);
  tr.on_critical_alert(1, 10, T0);
  tr.on_report(1, DeviceStatus::error, "Fault", T0 + 1s);
  EXPECT_FALSE(tr.on_critical_resolved(1, 10, T0 + 2s).has_value());
  EXPECT_EQ(tr.status(1), DeviceStatus::error);
}

TEST(DeviceStatus, AlertWarningDeviceGoesOfflineAndComesBackOnline) {
  DeviceStatusTracker tr(1min, true);
  tr.track(1, DeviceStatus::online, T0);
  tr.on_critical_alert(1, 10, T0);
  auto v = tr.check_offline(T0 + 2min);
  ASSERT_EQ(v.size(), 1u);
  expect_change(v[0], 1, "warning", "offline", "No telemetry for 1m");
  EXPECT_FALSE(tr.on_critical_resolved(1, 10, T0 + 3min).has_value());
  EXPECT_EQ(tr.status(1), DeviceStatus::offline);
  expect_change(tr.on_telemetry(1, T0 + 4min), 1, "offline", "online", "Telemetry received");
}

TEST(DeviceStatus, CriticalAlertOnOfflineDeviceDoesNothing) {
  DeviceStatusTracker tr(1min, true);
  tr.track(1, DeviceStatus::offline, T0);
  EXPECT_FALSE(tr.on_critical_alert(1, 10, T0).has_value());
  EXPECT_FALSE(tr.on_critical_alert(99, 11, T0).has_value());  // untracked device
  EXPECT_FALSE(tr.on_critical_resolved(99, 11, T0).has_value());
}

TEST(DeviceStatus, RestoreCriticalAfterRestart) {
  DeviceStatusTracker tr(1h, true);
  tr.track(1, DeviceStatus::warning, T0);  // stored warning, its critical alert 10 still open
  tr.restore_critical(1, 10);
  tr.track(2, DeviceStatus::online, T0);
  tr.restore_critical(2, 11);  // no transition: restoring never changes a status
  EXPECT_EQ(tr.status(2), DeviceStatus::online);
  expect_change(tr.on_critical_resolved(1, 10, T0 + 1s), 1, "warning", "online",
                "Critical alerts resolved");
  EXPECT_FALSE(tr.on_critical_resolved(2, 11, T0 + 1s).has_value());
}

}  // namespace
}  // namespace valtronics::engine
