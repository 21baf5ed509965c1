// session/throttle: Throttles holds the latest value of each wanted metric per device and
// releases it per slot. Pure: time is a parameter.
#include "session/throttle.hpp"

#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using model::Channel;
using std::chrono::milliseconds;

const SteadyTime T0 = SteadyTime{} + std::chrono::hours(10);

TelemetryPlan plan(milliseconds frequency, std::vector<std::string> metrics = {}) {
  TelemetryPlan p;
  p.matched = true;
  p.frequency = frequency;
  p.metrics = std::move(metrics);
  return p;
}

std::vector<std::pair<std::string, double>> values(const std::vector<model::MetricReading>& rs) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& r : rs) out.emplace_back(r.name, r.value);
  return out;
}

std::vector<std::pair<std::string, double>> values(const Throttles::Window& w) {
  return values(w.readings);
}

using Values = std::vector<std::pair<std::string, double>>;

TEST(Throttles, FirstReadingsFindTheSlotOpen) {
  Throttles th;
  EXPECT_TRUE(th.empty());
  const std::vector<model::MetricReading> rs{reading("t", 1)};
  EXPECT_TRUE(th.hold(1, rs, plan(milliseconds(1000)), T0));
  EXPECT_EQ(values(th.take(1, T0)), (Values{{"t", 1}}));
  EXPECT_FALSE(th.empty());
  EXPECT_EQ(th.next_due(), SteadyTime::max()) << "nothing held";
}

TEST(Throttles, HoldsTheLatestValuePerMetricUntilTheSlot) {
  Throttles th;
  const auto p = plan(milliseconds(1000));
  const std::vector<model::MetricReading> first{reading("t", 1)};
  ASSERT_TRUE(th.hold(1, first, p, T0));
  th.take(1, T0);
  const std::vector<model::MetricReading> a{reading("t", 2), reading("h", 10)};
  const std::vector<model::MetricReading> b{reading("t", 3)};
  EXPECT_FALSE(th.hold(1, a, p, T0 + milliseconds(100)));
  EXPECT_FALSE(th.hold(1, b, p, T0 + milliseconds(200)));
  EXPECT_EQ(th.next_due(), T0 + milliseconds(1000));
  EXPECT_TRUE(th.take_due(T0 + milliseconds(999)).empty());
  auto due = th.take_due(T0 + milliseconds(1000));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first, 1);
  EXPECT_EQ(values(due[0].second), (Values{{"h", 10}, {"t", 3}}));
  EXPECT_EQ(th.next_due(), SteadyTime::max());
}

TEST(Throttles, OnlyWantedMetricsAreHeld) {
  Throttles th;
  const auto p = plan(milliseconds(1000), {"t"});
  const std::vector<model::MetricReading> none{reading("h", 1)};
  EXPECT_FALSE(th.hold(1, none, p, T0)) << "nothing wanted: nothing to send";
  EXPECT_EQ(th.next_due(), SteadyTime::max());
  const std::vector<model::MetricReading> some{reading("h", 2), reading("t", 5)};
  EXPECT_TRUE(th.hold(1, some, p, T0));
  EXPECT_EQ(values(th.take(1, T0)), (Values{{"t", 5}}));
}

TEST(Throttles, TakeDueIsPacedFromTheSlot) {
  Throttles th;
  const auto p = plan(milliseconds(1000));
  const std::vector<model::MetricReading> rs{reading("t", 1)};
  th.hold(1, rs, p, T0);
  th.take(1, T0);                               // next slot T0 + 1 s
  th.hold(1, rs, p, T0 + milliseconds(500));
  EXPECT_EQ(th.take_due(T0 + milliseconds(1300)).size(), 1u);  // late
  th.hold(1, rs, p, T0 + milliseconds(1400));
  EXPECT_EQ(th.next_due(), T0 + milliseconds(2000)) << "from the slot, not from the late call";
}

TEST(Throttles, TakeDueAfterALongPauseRestartsFromNow) {
  Throttles th;
  const auto p = plan(milliseconds(1000));
  const std::vector<model::MetricReading> rs{reading("t", 1)};
  th.hold(1, rs, p, T0);
  th.take(1, T0);
  th.hold(1, rs, p, T0 + milliseconds(500));
  EXPECT_EQ(th.take_due(T0 + milliseconds(5500)).size(), 1u);
  th.hold(1, rs, p, T0 + milliseconds(5600));
  EXPECT_EQ(th.next_due(), T0 + milliseconds(6500)) << "no burst of missed slots";
}

TEST(Throttles, DevicesHaveTheirOwnSlots) {
  Throttles th;
  const auto p = plan(milliseconds(1000));
  const std::vector<model::MetricReading> rs{reading("t", 1)};
  th.hold(1, rs, p, T0);
  th.take(1, T0);
  th.hold(2, rs, p, T0 + milliseconds(300));
  th.take(2, T0 + milliseconds(300));
  th.hold(1, rs, p, T0 + milliseconds(400));
  th.hold(2, rs, p, T0 + milliseconds(400));
  EXPECT_EQ(th.next_due(), T0 + milliseconds(1000));
  auto due = th.take_due(T0 + milliseconds(1000));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first, 1);
  EXPECT_EQ(th.next_due(), T0 + milliseconds(1300));
}

TEST(Throttles, PruneDropsDevicesNoLongerThrottledOrVisible) {
  Throttles th;
  const auto p = plan(milliseconds(1000));
  const std::vector<model::MetricReading> rs{reading("t", 1), reading("h", 2)};
  for (std::int64_t d : {1, 2, 3, 4}) {
    th.hold(d, rs, p, T0);
    th.take(d, T0);
    th.hold(d, rs, p, T0 + milliseconds(1));
  }
  protocol::Filters slow, slow_t, realtime;
  slow.frequency = milliseconds(2000);
  slow_t.frequency = milliseconds(500);
  slow_t.metrics = {"t"};
  Subscriptions subs{{{Channel::telemetry, 1}, slow},
                     {{Channel::telemetry, 2}, realtime},
                     {{Channel::telemetry, 3}, slow_t}};
  // Device 4: no subscription any more; 2: real-time now; 1: not visible to the token.
  th.prune(subs, [](std::int64_t d) { return d != 1; });
  auto due = th.take_due(T0 + milliseconds(1000));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first, 3);
  EXPECT_EQ(values(due[0].second), (Values{{"t", 1}})) << "restricted to the metrics still wanted";
  // ... at its new frequency.
  th.hold(3, rs, p, T0 + milliseconds(1100));
  th.prune(subs, [](std::int64_t) { return true; });
  EXPECT_EQ(th.next_due(), T0 + milliseconds(1500));
}

TEST(Throttles, PruneWithNoSubscriptionEmptiesIt) {
  Throttles th;
  const std::vector<model::MetricReading> rs{reading("t", 1)};
  th.hold(1, rs, plan(milliseconds(1000)), T0);
  th.prune({}, [](std::int64_t) { return true; });
  EXPECT_TRUE(th.empty());
}

}  // namespace
}  // namespace valtronics::session::test
