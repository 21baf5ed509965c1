// The system sampler's cpu_usage against a real busy core. Timing-sensitive on a shared 2-core
// machine (it needs the spinning thread to get its share of a 300 ms window), so it runs with the
// integration tests, serially, not with the unit tests.
#include "engine/system_metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

namespace valtronics::engine {
namespace {

std::map<std::string, double> as_map(const model::SystemEvent& ev) {
  return {ev.metrics.begin(), ev.metrics.end()};
}

TEST(SystemMetricsTiming, CpuIsADeltaBetweenSamples) {
  SystemSampler sampler;
  (void)sampler.sample({}, util::Clock::now());  // since boot

  // Keep one core busy, then sample again: the delta covers only the busy interval.
  std::atomic<bool> stop{false};
  std::thread burner([&] {
    volatile std::uint64_t x = 0;
    while (!stop.load(std::memory_order_relaxed)) x = x + 1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto busy = as_map(sampler.sample({}, util::Clock::now()));
  stop = true;
  burner.join();

  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  // One spinning thread is at least ~1/cores of the machine (minus scheduling slack); the machine
  // is shared, so only a lower bound is certain.
  EXPECT_GE(busy["cpu_usage"], 50.0 / cores) << "cores=" << cores;
  EXPECT_LE(busy["cpu_usage"], 100.0);
}

}  // namespace
}  // namespace valtronics::engine
