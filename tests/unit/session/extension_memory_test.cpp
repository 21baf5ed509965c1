// What the issue-15 extensions cost in memory, measured with glibc's mallinfo2 (as the outbound
// queue's control-frame cost is): per unacknowledged alert (AckLedger), per (device, metric) a
// gated subscription was sent (ValueGates), per stale_after clock (StaleWatch). The figures are
// printed for docs/benchmarks.md ("Delivery extensions") and bounded here so that a change that
// makes them grow is noticed.
#include <malloc.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "session/ack_ledger.hpp"
#include "session/stale_watch.hpp"
#include "session/value_gates.hpp"
#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using model::Channel;
using std::chrono::milliseconds;

std::size_t in_use() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

const SteadyTime T0 = SteadyTime{} + std::chrono::hours(10);
constexpr std::size_t kN = 10'000;

TEST(ExtensionMemory, PerUnacknowledgedAlert) {
  // The alert's serialization is shared with every other receiver: not counted here.
  auto alert = std::make_shared<const std::string>(300, 'a');
  const auto before = in_use();
  auto ledger = std::make_unique<AckLedger>();
  for (std::size_t i = 0; i < kN; ++i) ledger->track(alert, T0 + milliseconds(i));
  const double each = double(in_use() - before) / kN;
  std::printf("unacknowledged alert: %.1f heap bytes each\n", each);
  EXPECT_LE(each, 160.0);
}

TEST(ExtensionMemory, PerGatedDeviceAndMetric) {
  protocol::Filters f;
  f.deadband.all = 0.5;
  f.max_silence = milliseconds(1000);
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, f}};
  const std::vector<model::MetricReading> rs{reading("temperature", 1), reading("humidity", 2)};
  const auto before = in_use();
  auto gates = std::make_unique<ValueGates>();
  for (std::size_t d = 1; d <= kN / 2; ++d) gates->pass(subs, std::int64_t(d), rs, T0);
  const double each = double(in_use() - before) / kN;
  std::printf("gated (device, metric): %.1f heap bytes each\n", each);
  EXPECT_LE(each, 256.0);
}

TEST(ExtensionMemory, PerStaleClock) {
  protocol::Filters f;
  f.stale_after = milliseconds(60'000);
  Subscriptions subs{{{Channel::telemetry, hub::kAllDevices}, f}};
  const std::vector<model::MetricReading> rs{reading("temperature", 1)};
  const auto before = in_use();
  auto watch = std::make_unique<StaleWatch>();
  for (std::size_t d = 1; d <= kN; ++d) watch->seen(subs, std::int64_t(d), rs, T0);
  const double each = double(in_use() - before) / kN;
  std::printf("stale_after clock: %.1f heap bytes each\n", each);
  EXPECT_LE(each, 256.0);
}

}  // namespace
}  // namespace valtronics::session::test
