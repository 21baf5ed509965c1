// session/value_gates: deadband (absolute, percent, per metric, the larger of both), max_silence,
// crossing levels and direction, the union of several subscriptions, forced values, prune.
// Pure: time is a parameter.
#include "session/value_gates.hpp"

#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using model::Channel;
using protocol::Direction;
using std::chrono::milliseconds;

const SteadyTime T0 = SteadyTime{} + std::chrono::hours(10);

// The values of `metric` that pass, one reading at a time, 10 ms apart.
std::vector<double> run(ValueGates& g, const Subscriptions& subs, std::int64_t device,
                        const std::string& metric, std::vector<double> values,
                        SteadyTime start = T0) {
  std::vector<double> out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::vector<model::MetricReading> rs{reading(metric, values[i])};
    for (const auto& r : g.pass(subs, device, rs, start + milliseconds(10 * i)).readings)
      out.push_back(r.value);
  }
  return out;
}

protocol::Filters deadband(double abs) {
  protocol::Filters f;
  f.deadband.all = abs;
  return f;
}

TEST(ValueGates, AbsoluteDeadbandComparesWithTheLastValueSent) {
  ValueGates g;
  Subscriptions subs{{{Channel::telemetry, 1}, deadband(1.0)}};
  EXPECT_EQ(run(g, subs, 1, "t", {20, 20.5, 21.2, 21.0, 19.9, 20.8, 21.1, 21.1}),
            (std::vector<double>{20, 21.2, 19.9, 21.1}));
  // Exactly the band is not more than it.
  ValueGates g2;
  EXPECT_EQ(run(g2, subs, 1, "t", {0, 1, 2.5}), (std::vector<double>{0, 2.5}));
}

TEST(ValueGates, PercentBandAndTheLargerOfBoth) {
  ValueGates g;
  protocol::Filters f;
  f.deadband_pct.all = 10;
  Subscriptions subs{{{Channel::telemetry, 1}, f}};
  // 10% of the last value sent: 5, then 5.6 (from 56: 50.5 stays in), then 5 (from 50).
  EXPECT_EQ(run(g, subs, 1, "h", {50, 54, 56, 50.5, 50, 50, 44}),
            (std::vector<double>{50, 56, 50, 44}));
  // Near zero a percentage alone passes everything; an absolute floor stops the chatter.
  f.deadband.all = 0.5;
  subs = {{{Channel::telemetry, 1}, f}};
  ValueGates g2;
  EXPECT_EQ(run(g2, subs, 1, "h", {0.1, 0.2, 0.3, 0.7, 100, 105, 111}),
            (std::vector<double>{0.1, 0.7, 100, 111}));
}

TEST(ValueGates, PerMetricBandsAndTheStarForTheOthers) {
  ValueGates g;
  protocol::Filters f;
  f.deadband.by_metric = {{"t", 5}};
  f.deadband.all = 0;
  Subscriptions subs{{{Channel::telemetry, 1}, f}};
  EXPECT_EQ(run(g, subs, 1, "t", {1, 4, 7}), (std::vector<double>{1, 7}));
  EXPECT_EQ(run(g, subs, 1, "x", {1, 1, 2, 2}), (std::vector<double>{1, 2}));
  // Without "*": other metrics have no gate.
  f.deadband.all.reset();
  subs = {{{Channel::telemetry, 1}, f}};
  EXPECT_EQ(run(g, subs, 1, "y", {1, 1, 1}), (std::vector<double>{1, 1, 1}));
}

TEST(ValueGates, StatesArePerDeviceAndMetric) {
  ValueGates g;
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, deadband(1.0)}};
  EXPECT_EQ(run(g, subs, 1, "t", {10, 10.5}), (std::vector<double>{10}));
  EXPECT_EQ(run(g, subs, 2, "t", {10.5}), (std::vector<double>{10.5}));  // first of device 2
  EXPECT_EQ(run(g, subs, 1, "u", {10.5}), (std::vector<double>{10.5}));  // first of metric u
}

TEST(ValueGates, MaxSilenceSendsTheLatestHeldValueOnce) {
  ValueGates g;
  auto f = deadband(10);
  f.max_silence = milliseconds(1000);
  Subscriptions subs{{{Channel::telemetry, 1}, f}};
  EXPECT_EQ(run(g, subs, 1, "t", {20, 21, 22}), (std::vector<double>{20}));
  EXPECT_EQ(g.next_due(), T0 + milliseconds(1000));  // from the value sent, at T0
  EXPECT_TRUE(g.take_due(T0 + milliseconds(999)).empty());
  auto due = g.take_due(T0 + milliseconds(1000));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].first, 1);
  ASSERT_EQ(due[0].second.size(), 1u);
  EXPECT_EQ(due[0].second[0].value, 22);
  EXPECT_EQ(g.next_due(), SteadyTime::max()) << "nothing held: no deadline";
  // The held value counts as sent: the band is measured from 22 now.
  EXPECT_EQ(run(g, subs, 1, "t", {31, 33}, T0 + milliseconds(1100)), (std::vector<double>{33}));
}

TEST(ValueGates, AValueHeldPastMaxSilenceAlreadyGoesOutAtOnce) {
  ValueGates g;
  auto f = deadband(10);
  f.max_silence = milliseconds(100);
  Subscriptions subs{{{Channel::telemetry, 1}, f}};
  EXPECT_EQ(run(g, subs, 1, "t", {20}), (std::vector<double>{20}));
  EXPECT_EQ(run(g, subs, 1, "t", {21}, T0 + milliseconds(500)), (std::vector<double>{21}));
  EXPECT_EQ(g.next_due(), SteadyTime::max());
}

TEST(ValueGates, CrossingsUpAndDownFromTheValueSeenBefore) {
  ValueGates g;
  protocol::Filters f;
  f.crossing.by_metric = {{"t", 30}};
  Subscriptions subs{{{Channel::telemetry, 1}, f}};
  std::vector<Direction> dirs;
  std::vector<double> sent;
  for (double v : {31.0, 25.0, 29.0, 31.0, 32.0, 28.0, 30.0, 29.99}) {
    const std::vector<model::MetricReading> rs{reading("t", v)};
    auto p = g.pass(subs, 1, rs, T0);
    for (const auto& r : p.readings) sent.push_back(r.value);
    for (const auto& c : p.crossed) dirs.push_back(c.direction);
  }
  // The first reading (31) crosses nothing: nothing was seen before it.
  EXPECT_EQ(sent, (std::vector<double>{25, 31, 28, 30, 29.99}));
  EXPECT_EQ(dirs, (std::vector<Direction>{Direction::down, Direction::up, Direction::down,
                                          Direction::up, Direction::down}));
  // Metrics without a level have no gate.
  EXPECT_EQ(run(g, subs, 1, "h", {1, 1}), (std::vector<double>{1, 1}));
  f.direction = Direction::up;
  subs = {{{Channel::telemetry, 1}, f}};
  ValueGates up;
  EXPECT_EQ(run(up, subs, 1, "t", {25, 31, 28, 30, 29}), (std::vector<double>{31, 30}));
}

TEST(ValueGates, SeveralSubscriptionsAreAUnion) {
  ValueGates g;
  protocol::Filters wide = deadband(10), narrow = deadband(1);
  narrow.metrics = {"t"};
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, wide},
                     {{Channel::telemetry, 1}, narrow}};
  EXPECT_EQ(run(g, subs, 1, "t", {0, 2, 3, 15}), (std::vector<double>{0, 2, 15}));
  EXPECT_EQ(run(g, subs, 1, "h", {0, 2, 15}), (std::vector<double>{0, 15}));  // only `wide`
  // A subscription without a gate lets everything it wants through.
  protocol::Filters plain;
  subs = {{{Channel::telemetry, hub::kAllDevices}, wide}, {{Channel::telemetry, 1}, plain}};
  ValueGates g2;
  EXPECT_EQ(run(g2, subs, 1, "t", {0, 1, 2}), (std::vector<double>{0, 1, 2}));
}

TEST(ValueGates, ForcedMetricsPassWhateverTheirGates) {
  ValueGates g;
  Subscriptions subs{{{Channel::telemetry, 1}, deadband(10)}};
  run(g, subs, 1, "t", {20});
  const std::vector<model::MetricReading> rs{reading("t", 21), reading("u", 0)};
  const std::vector<std::string> force{"t"};
  auto p = g.pass(subs, 1, rs, T0, force);
  ASSERT_EQ(p.readings.size(), 2u);  // t forced, u its first value
  auto q = g.pass(subs, 1, rs, T0, {}, true);
  EXPECT_EQ(q.readings.size(), 2u);
  EXPECT_TRUE(g.pass(subs, 1, rs, T0).readings.empty());
}

TEST(ValueGates, PruneForgetsWhatNoGatedSubscriptionConcerns) {
  ValueGates g;
  auto f = deadband(10);
  f.max_silence = milliseconds(1000);
  Subscriptions subs{{{Channel::telemetry, 1}, f}, {{Channel::telemetry, 2}, f}};
  run(g, subs, 1, "t", {20, 21});
  run(g, subs, 2, "t", {20, 21});
  EXPECT_NE(g.next_due(), SteadyTime::max());
  subs.erase({Channel::telemetry, 2});
  subs[{Channel::telemetry, 1}].max_silence.reset();
  g.prune(subs);
  EXPECT_EQ(g.next_due(), SteadyTime::max()) << "no max_silence asked for any more";
  EXPECT_TRUE(run(g, subs, 1, "t", {22}).empty()) << "device 1 keeps its last value sent";
  subs.clear();
  g.prune(subs);
  EXPECT_TRUE(g.empty());
}

}  // namespace
}  // namespace valtronics::session::test
