// session/subscription_set: match_event (which subscription's filters accept an event) and
// telemetry_plan (what a connection wants of one device's telemetry), pure functions of the
// subscription map.
#include "session/subscription_set.hpp"

#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using model::AlertType;
using model::Channel;
using model::DeviceStatus;
using model::Severity;
using std::chrono::milliseconds;

protocol::Filters severities(std::vector<Severity> s) {
  protocol::Filters f;
  f.severities = std::move(s);
  return f;
}

TEST(MatchEvent, NoSubscriptionOfTheChannelMatchesNothing) {
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, {}}};
  EXPECT_EQ(match_event(subs, *make_event(1, alert_event(1, 1))), nullptr);
}

TEST(MatchEvent, EveryDeviceSubscriptionMatchesAnyDevice) {
  Subscriptions subs{{{Channel::alerts, hub::kAllDevices}, {}}};
  EXPECT_EQ(match_event(subs, *make_event(1, alert_event(1, 42))), &subs.begin()->second);
}

TEST(MatchEvent, DeviceSubscriptionMatchesOnlyItsDevice) {
  Subscriptions subs{{{Channel::alerts, 2}, {}}, {{Channel::alerts, 4}, severities({Severity::info})}};
  EXPECT_EQ(match_event(subs, *make_event(1, alert_event(1, 3))), nullptr);
  EXPECT_EQ(match_event(subs, *make_event(2, alert_event(2, 2))), &subs.at({Channel::alerts, 2}));
  EXPECT_EQ(match_event(subs, *make_event(3, alert_event(3, 4, Severity::info))),
            &subs.at({Channel::alerts, 4}));
  EXPECT_EQ(match_event(subs, *make_event(4, alert_event(4, 4, Severity::critical))), nullptr);
}

TEST(MatchEvent, SeverityAndAlertTypeMustBothAccept) {
  protocol::Filters f = severities({Severity::critical});
  f.alert_types = {AlertType::anomaly, AlertType::manual};
  Subscriptions subs{{{Channel::alerts, hub::kAllDevices}, f}};
  auto match = [&](Severity s, AlertType t) {
    return match_event(subs, *make_event(1, alert_event(1, 1, s, model::AlertStatus::active, t))) != nullptr;
  };
  EXPECT_TRUE(match(Severity::critical, AlertType::anomaly));
  EXPECT_TRUE(match(Severity::critical, AlertType::manual));
  EXPECT_FALSE(match(Severity::warning, AlertType::anomaly));
  EXPECT_FALSE(match(Severity::critical, AlertType::threshold));
}

TEST(MatchEvent, StatusTypesFilterTheNewStatus) {
  protocol::Filters f;
  f.status_types = {DeviceStatus::offline};
  Subscriptions subs{{{Channel::devices, hub::kAllDevices}, f}};
  EXPECT_NE(match_event(subs, *make_event(1, status_event(1, DeviceStatus::online, DeviceStatus::offline))), nullptr);
  EXPECT_EQ(match_event(subs, *make_event(2, status_event(1, DeviceStatus::offline, DeviceStatus::online))), nullptr);
}

TEST(MatchEvent, FallsThroughToAnotherSubscriptionThatAccepts) {
  Subscriptions subs{{{Channel::alerts, hub::kAllDevices}, severities({Severity::critical})},
                     {{Channel::alerts, 1}, severities({Severity::info})},
                     {{Channel::alerts, 2}, severities({Severity::warning})}};
  EXPECT_EQ(match_event(subs, *make_event(1, alert_event(1, 1, Severity::info))),
            &subs.at({Channel::alerts, 1}));
  EXPECT_EQ(match_event(subs, *make_event(2, alert_event(2, 1, Severity::critical))),
            &subs.at({Channel::alerts, hub::kAllDevices}));
  EXPECT_EQ(match_event(subs, *make_event(3, alert_event(3, 1, Severity::warning))), nullptr)
      << "device 2's subscription does not concern device 1";
}

TEST(MatchEvent, SystemEventsMatchTheSystemSubscription) {
  Subscriptions subs{{{Channel::system, hub::kAllDevices}, {}}};
  EXPECT_NE(match_event(subs, *make_event(1, system_event(1))), nullptr);
  EXPECT_EQ(match_event({}, *make_event(1, system_event(1))), nullptr);
}

TEST(MatchEvent, OtherChannelsDoNotLeakIn) {
  // Keys of the next channel start right after; the scan must stop at the channel's end.
  Subscriptions subs{{{Channel::devices, hub::kAllDevices}, {}}, {{Channel::devices, 1}, {}}};
  EXPECT_EQ(match_event(subs, *make_event(1, alert_event(1, 1))), nullptr);
}

protocol::Filters tf(std::vector<std::string> metrics, milliseconds frequency = milliseconds(0)) {
  protocol::Filters f;
  f.metrics = std::move(metrics);
  f.frequency = frequency;
  return f;
}

TEST(TelemetryPlan, UnmatchedDevice) {
  Subscriptions subs{{{Channel::telemetry, 1}, {}}, {{Channel::alerts, hub::kAllDevices}, {}}};
  const auto plan = telemetry_plan(subs, 2);
  EXPECT_FALSE(plan.matched);
}

TEST(TelemetryPlan, SingleRealTimeSubscriptionOfEveryMetric) {
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, {}}};
  const auto plan = telemetry_plan(subs, 7);
  EXPECT_TRUE(plan.matched);
  EXPECT_TRUE(plan.realtime);
  EXPECT_TRUE(plan.metrics.empty());
}

TEST(TelemetryPlan, UnionOfMetricsSortedAndUnique) {
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, tf({"rpm", "temp"})},
                     {{Channel::telemetry, 3}, tf({"humidity", "rpm"})},
                     {{Channel::telemetry, 4}, tf({"zzz"})}};
  const auto plan = telemetry_plan(subs, 3);
  EXPECT_EQ(plan.metrics, (std::vector<std::string>{"humidity", "rpm", "temp"}));
  EXPECT_TRUE(plan.realtime);
}

TEST(TelemetryPlan, AnySubscriptionOfEveryMetricMeansEveryMetric) {
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, tf({"rpm"})},
                     {{Channel::telemetry, 3}, tf({})}};
  EXPECT_TRUE(telemetry_plan(subs, 3).metrics.empty());
  EXPECT_EQ(telemetry_plan(subs, 4).metrics, std::vector<std::string>{"rpm"});
}

TEST(TelemetryPlan, ThrottledOnlyWhenEverySubscriptionIsAndAtTheShortestFrequency) {
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, tf({}, milliseconds(5000))},
                     {{Channel::telemetry, 3}, tf({}, milliseconds(1000))},
                     {{Channel::telemetry, 4}, tf({}, milliseconds(0))}};
  const auto p3 = telemetry_plan(subs, 3);
  EXPECT_FALSE(p3.realtime);
  EXPECT_EQ(p3.frequency, milliseconds(1000));
  const auto p5 = telemetry_plan(subs, 5);
  EXPECT_FALSE(p5.realtime);
  EXPECT_EQ(p5.frequency, milliseconds(5000));
  EXPECT_TRUE(telemetry_plan(subs, 4).realtime);
}

TEST(TelemetryPlan, ProjectionKey) {
  EXPECT_EQ(projection_key('t', std::vector<std::string>{"a", "b"}), "t,a,b");
  EXPECT_EQ(projection_key('s', std::vector<std::string>{}), "s");
}

}  // namespace
}  // namespace valtronics::session::test
