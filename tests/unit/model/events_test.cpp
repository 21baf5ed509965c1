// model/events.hpp: an event body's channel and device, and the alerts channel's form of a
// stored alert.
#include "model/device.hpp"
#include "model/events.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace valtronics::model {
namespace {

using namespace std::chrono_literals;

TEST(ModelEvents, ChannelOfEachBody) {
  EXPECT_EQ(channel_of(EventBody{TelemetryEvent{}}), Channel::telemetry);
  EXPECT_EQ(channel_of(EventBody{AlertEvent{}}), Channel::alerts);
  EXPECT_EQ(channel_of(EventBody{DeviceStatusEvent{}}), Channel::devices);
  EXPECT_EQ(channel_of(EventBody{SystemEvent{}}), Channel::system);
  static_assert(std::variant_size_v<EventBody> == kChannelCount);
}

TEST(ModelEvents, DeviceOfEachBody) {
  TelemetryEvent t;
  t.device_id = 4;
  AlertEvent a;
  a.device_id = 5;
  DeviceStatusEvent s;
  s.device_id = 6;
  SystemEvent sys;
  sys.metrics = {{"cpu_usage", 1.5}};
  EXPECT_EQ(device_of(t), 4);
  EXPECT_EQ(device_of(a), 5);
  EXPECT_EQ(device_of(s), 6);
  EXPECT_EQ(device_of(sys), 0);  // system events are about no device
}

TEST(ModelEvents, ToAlertEventCopiesTheWireFields) {
  Alert a;
  a.id = 42;
  a.device_id = 7;
  a.severity = Severity::critical;
  a.alert_type = AlertType::device;
  a.title = "Device Offline";
  a.message = "m";
  a.status = AlertStatus::acknowledged;
  a.timestamp = util::TimePoint{1700000000000ms};
  a.metadata = {{"metric", "temperature"}, {"rule_id", 3}};
  a.rule_id = 3;
  a.acknowledged_by = "alice";
  a.notes = "n";

  const AlertEvent e = to_alert_event(a);
  EXPECT_EQ(e.alert_id, 42);
  EXPECT_EQ(e.device_id, 7);
  EXPECT_EQ(e.severity, Severity::critical);
  EXPECT_EQ(e.alert_type, AlertType::device);
  EXPECT_EQ(e.title, "Device Offline");
  EXPECT_EQ(e.message, "m");
  EXPECT_EQ(e.status, AlertStatus::acknowledged);
  EXPECT_EQ(e.timestamp, a.timestamp);
  EXPECT_EQ(e.metadata, a.metadata);
  EXPECT_EQ(channel_of(EventBody{e}), Channel::alerts);
}

TEST(ModelEvents, DefaultsAreTheRecordsDefaults) {
  const AlertEvent e = to_alert_event(Alert{});
  EXPECT_EQ(e.status, AlertStatus::active);
  EXPECT_EQ(e.severity, Severity::warning);
  EXPECT_EQ(e.alert_type, AlertType::threshold);
  EXPECT_EQ(Device{}.status, DeviceStatus::offline);
  EXPECT_EQ(Device{}.device_type, DeviceType::sensor);
}

}  // namespace
}  // namespace valtronics::model
