// Tests of the system sampler against the real host: every advertised metric is present and in
// range, percentages are rounded to 0.1, and cpu_usage is a delta between consecutive samples.
#include "engine/system_metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

#include "protocol/parse.hpp"

namespace valtronics::engine {
namespace {

std::map<std::string, double> as_map(const model::SystemEvent& ev) {
  std::map<std::string, double> m;
  for (const auto& [k, v] : ev.metrics) m[k] = v;
  return m;
}

bool is_tenth(double v) { return std::abs(v * 10 - std::round(v * 10)) < 1e-6; }

TEST(SystemMetrics, NamesListTheChannelsMetrics) {
  const auto& names = system_metric_names();
  for (const char* required : {"cpu_usage", "memory_usage", "disk_usage", "active_connections"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), required), names.end()) << required;
  }
}

// The protocol parser accepts, in a `system` subscription's metrics filter, the names of its
// ParseOptions::system_metrics: the list the sampler publishes, written there a second time
// (protocol/ sits below engine/). This keeps the two lists the same.
TEST(SystemMetrics, TheParserAcceptsExactlyTheSampledNames) {
  auto sampled = system_metric_names();
  sampled.insert(sampled.end(), cluster_metric_names().begin(), cluster_metric_names().end());
  auto accepted = protocol::ParseOptions{}.system_metrics;
  std::sort(sampled.begin(), sampled.end());
  std::sort(accepted.begin(), accepted.end());
  EXPECT_EQ(sampled, accepted);
}

TEST(SystemMetrics, SampleHasEveryMetricInRange) {
  SystemSampler sampler;
  auto now = util::Clock::now();
  auto ev = sampler.sample({.active_connections = 42}, now);
  EXPECT_EQ(ev.timestamp, now);
  auto m = as_map(ev);
  // Every sampled metric is one the channel advertises, and on Linux all of them are readable.
  for (const auto& [k, v] : ev.metrics) {
    const auto& names = system_metric_names();
    EXPECT_NE(std::find(names.begin(), names.end(), k), names.end()) << k;
    EXPECT_TRUE(std::isfinite(v)) << k;
  }
  for (const auto& name : system_metric_names()) EXPECT_TRUE(m.count(name)) << name;

  for (const char* pct : {"cpu_usage", "memory_usage", "disk_usage"}) {
    EXPECT_GE(m[pct], 0.0) << pct;
    EXPECT_LE(m[pct], 100.0) << pct;
    EXPECT_TRUE(is_tenth(m[pct])) << pct << " = " << m[pct];
  }
  EXPECT_GT(m["memory_usage"], 0.0);
  EXPECT_GT(m["disk_usage"], 0.0);
  EXPECT_EQ(m["active_connections"], 42.0);
  EXPECT_GE(m["load_average_1m"], 0.0);
  EXPECT_GT(m["process_rss_mb"], 0.1);
  EXPECT_LT(m["process_rss_mb"], 100000.0);
  EXPECT_GT(m["uptime_seconds"], 0.0);
}

TEST(SystemMetrics, BackToBackSamplesStayValid) {
  SystemSampler sampler;
  for (int i = 0; i < 5; ++i) {
    auto m = as_map(sampler.sample({}, util::Clock::now()));
    ASSERT_TRUE(m.count("cpu_usage"));
    EXPECT_GE(m["cpu_usage"], 0.0);
    EXPECT_LE(m["cpu_usage"], 100.0);
  }
}

TEST(SystemMetrics, UnreadableDiskPathIsLeftOut) {
  SystemSampler sampler("/nonexistent/valtronics/path");
  auto m = as_map(sampler.sample({.active_connections = 1}, util::Clock::now()));
  EXPECT_FALSE(m.count("disk_usage"));
  EXPECT_TRUE(m.count("cpu_usage"));
  EXPECT_EQ(m["active_connections"], 1.0);
}

// (issue 10) The abuse figures, under the snake_case names of the stats' fields.
TEST(SystemMetrics, CarriesTheServerFigures) {
  SystemSampler sampler;
  const ServerFigures f{.active_connections = 1,
                        .unauthenticated_connections = 2,
                        .auth_failures = 3,
                        .bans = 4,
                        .banned_addresses = 5,
                        .banned_refusals = 6,
                        .limit_violations = 7};
  auto m = as_map(sampler.sample(f, util::Clock::now()));
  EXPECT_EQ(m["active_connections"], 1.0);
  EXPECT_EQ(m["unauthenticated_connections"], 2.0);
  EXPECT_EQ(m["auth_failures"], 3.0);
  EXPECT_EQ(m["bans"], 4.0);
  EXPECT_EQ(m["banned_addresses"], 5.0);
  EXPECT_EQ(m["banned_refusals"], 6.0);
  EXPECT_EQ(m["limit_violations"], 7.0);
}

}  // namespace
}  // namespace valtronics::engine
