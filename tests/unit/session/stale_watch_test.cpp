// session/stale_watch: clocks per device or per device and metric, started by a subscription
// naming devices or by a device's first reading, restarted by readings, reported once, resumed,
// and forgotten with their subscription. Pure: time is a parameter.
#include "session/stale_watch.hpp"

#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using model::Channel;
using std::chrono::milliseconds;

const SteadyTime T0 = SteadyTime{} + std::chrono::hours(10);

protocol::Filters stale(milliseconds after, std::vector<std::string> metrics = {}) {
  protocol::Filters f;
  f.stale_after = after;
  f.metrics = std::move(metrics);
  return f;
}

TEST(StaleWatch, ANamedDeviceGoesStaleFromTheSubscriptionOnceThenResumes) {
  StaleWatch w;
  Subscriptions subs{{{Channel::telemetry, 7}, stale(milliseconds(1000))}};
  w.sync(subs, T0);
  EXPECT_EQ(w.next_due(), T0 + milliseconds(1000));
  EXPECT_TRUE(w.take_due(T0 + milliseconds(999)).empty());
  auto due = w.take_due(T0 + milliseconds(1000));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].device, 7);
  EXPECT_EQ(due[0].metric, "");
  EXPECT_FALSE(due[0].last_seen.has_value());
  EXPECT_EQ(due[0].after, milliseconds(1000));
  EXPECT_EQ(w.next_due(), SteadyTime::max()) << "reported once per silence";
  EXPECT_TRUE(w.take_due(T0 + milliseconds(5000)).empty());

  const std::vector<model::MetricReading> rs{reading("t", 1)};
  auto resumed = w.seen(subs, 7, rs, T0 + milliseconds(6000));
  EXPECT_TRUE(resumed.device);
  EXPECT_EQ(w.next_due(), T0 + milliseconds(7000));
  resumed = w.seen(subs, 7, rs, T0 + milliseconds(6500));
  EXPECT_FALSE(resumed.any()) << "not stale any more";
  due = w.take_due(T0 + milliseconds(7500));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].last_seen, rs[0].timestamp);
}

TEST(StaleWatch, ListedMetricsHaveClocksOfTheirOwn) {
  StaleWatch w;
  Subscriptions subs{{{Channel::telemetry, 7}, stale(milliseconds(1000), {"a", "b"})}};
  w.sync(subs, T0);
  const std::vector<model::MetricReading> b{reading("b", 1), reading("c", 2)};
  w.seen(subs, 7, b, T0 + milliseconds(600));
  auto due = w.take_due(T0 + milliseconds(1000));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].metric, "a");
  due = w.take_due(T0 + milliseconds(1600));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].metric, "b");
  const std::vector<model::MetricReading> a{reading("a", 1)};
  auto resumed = w.seen(subs, 7, a, T0 + milliseconds(2000));
  EXPECT_FALSE(resumed.device);
  EXPECT_EQ(resumed.metrics, (std::vector<std::string>{"a"}));
}

TEST(StaleWatch, EveryDeviceStartsAClockAtItsFirstReading) {
  StaleWatch w;
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, stale(milliseconds(1000))}};
  w.sync(subs, T0);
  EXPECT_TRUE(w.empty());
  const std::vector<model::MetricReading> rs{reading("t", 1)};
  w.seen(subs, 3, rs, T0 + milliseconds(100));
  w.seen(subs, 4, rs, T0 + milliseconds(200));
  auto due = w.take_due(T0 + milliseconds(1200));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].device, 3);
  EXPECT_EQ(due[1].device, 4);
  // A later sync (another subscription) keeps the clocks this subscription started.
  subs[{Channel::telemetry, 9}] = protocol::Filters{};
  w.sync(subs, T0 + milliseconds(1300));
  EXPECT_FALSE(w.empty());
}

TEST(StaleWatch, TheShortestStaleAfterWinsAndUnsubscribingForgets) {
  StaleWatch w;
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, stale(milliseconds(5000))},
                     {{Channel::telemetry, 7}, stale(milliseconds(1000))}};
  w.sync(subs, T0);
  EXPECT_EQ(w.next_due(), T0 + milliseconds(1000));
  subs.erase({Channel::telemetry, 7});
  w.sync(subs, T0 + milliseconds(10));
  // Device 7 is still covered by the every-device subscription, now at 5 s, from now.
  EXPECT_EQ(w.next_due(), T0 + milliseconds(5010));
  subs.clear();
  w.sync(subs, T0 + milliseconds(20));
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.next_due(), SteadyTime::max());
}

}  // namespace
}  // namespace valtronics::session::test
