// The per-thread counters: every thread's counts are in the sum, a thread that ended keeps its
// counts in it, histograms put each observation in the first bucket at or above it.
#include "metrics/counters.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "metrics/exposition.hpp"
#include "model/enums.hpp"

namespace valtronics::metrics {
namespace {

TEST(MetricsCounters, SumsEveryThreadsBlockAndKeepsEndedThreadsCounts) {
  const auto before = read_all()[slot::bytes_out];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([] {
      for (int i = 0; i < 1000; ++i) add(slot::bytes_out);
    });
  for (auto& t : threads) t.join();
  add(slot::bytes_out, 5);
  EXPECT_EQ(read_all()[slot::bytes_out] - before, 4005u);
  // A new thread takes an ended thread's block: the sum goes on from where it was.
  std::thread([] { add(slot::bytes_out, 10); }).join();
  EXPECT_EQ(read_all()[slot::bytes_out] - before, 4015u);
}

TEST(MetricsCounters, LabelledSlotsAreDistinct) {
  const auto all = read_all();
  add(at(slot::auth_failures, AuthFailure::token_expired), 3);
  const auto after = read_all();
  for (std::size_t i = 0; i < slot::count; ++i) {
    const auto expected = all[i] + (i == at(slot::auth_failures, AuthFailure::token_expired) ? 3 : 0);
    EXPECT_EQ(after[i], expected) << "slot " << i;
  }
}

TEST(MetricsCounters, HistogramBucketsAndSum) {
  const std::size_t base =
      slot::histograms + static_cast<std::size_t>(Histogram::store_commit) * kHistogramSlots;
  const auto before = read_all();
  observe(Histogram::store_commit, std::chrono::microseconds(50));   // on the first bound
  observe(Histogram::store_commit, std::chrono::microseconds(700));  // 1 ms bucket
  observe(Histogram::store_commit, std::chrono::seconds(60));        // +Inf
  const auto after = read_all();
  EXPECT_EQ(after[base + 0] - before[base + 0], 1u);
  EXPECT_EQ(after[base + 4] - before[base + 4], 1u);  // 0.001
  EXPECT_EQ(after[base + kLatencyBuckets.size()] - before[base + kLatencyBuckets.size()], 1u);
  const auto sum = kLatencyBuckets.size() + 1;
  EXPECT_EQ(after[base + sum] - before[base + sum], 50'000u + 700'000u + 60'000'000'000u);
}

TEST(MetricsCounters, InIndexPlacesChannelsAfterThePlainTypes) {
  EXPECT_EQ(in_index(InType::auth), 0u);
  EXPECT_EQ(in_index(InType::binary), 4u);
  EXPECT_EQ(in_index(InType::subscribe, 0), kInPlain);
  EXPECT_EQ(in_index(InType::subscribe, 3), kInPlain + 3);
  EXPECT_EQ(in_index(InType::unsubscribe, 0), kInPlain + kChannels);
  EXPECT_EQ(in_index(InType::unsubscribe, 3), kInSlots - 1);
}

// metrics/ cannot include model/: its label names are copies, held equal here.
TEST(MetricsCounters, DomainLabelNamesEqualTheModels) {
  for (std::size_t i = 0; i < kSeverityNames.size(); ++i)
    EXPECT_EQ(kSeverityNames[i], model::EnumNames<model::Severity>::names[i]);
  EXPECT_EQ(kSeverityNames.size(), model::EnumNames<model::Severity>::names.size());
  EXPECT_EQ(kSeverities, kSeverityNames.size());
  for (std::size_t i = 0; i < kAlertTypeNames.size(); ++i)
    EXPECT_EQ(kAlertTypeNames[i], model::EnumNames<model::AlertType>::names[i]);
  EXPECT_EQ(kAlertTypeNames.size(), model::EnumNames<model::AlertType>::names.size());
  EXPECT_EQ(kAlertTypes, kAlertTypeNames.size());
  for (std::size_t i = 0; i < kDeviceStatusNames.size(); ++i)
    EXPECT_EQ(kDeviceStatusNames[i], model::EnumNames<model::DeviceStatus>::names[i]);
  EXPECT_EQ(kDeviceStatusNames.size(), model::EnumNames<model::DeviceStatus>::names.size());
  EXPECT_EQ(kChannels, model::kChannelCount);
}

TEST(MetricsExposition, RendersEveryFamilyInTheTextFormat) {
  add(at(slot::readings_accepted, Source::mqtt), 7);
  Figures f;
  f.websocket_active = 3;
  f.devices_by_status = std::array<std::uint64_t, 5>{1, 2, 0, 0, 4};
  const std::string text = render(f);
  EXPECT_NE(text.find("# TYPE valtronics_connections_active gauge"), std::string::npos);
  EXPECT_NE(text.find("valtronics_connections_active{endpoint=\"websocket\"} 3"), std::string::npos);
  EXPECT_NE(text.find("# TYPE valtronics_telemetry_points_total counter"), std::string::npos);
  EXPECT_NE(text.find("valtronics_devices_total{status=\"maintenance\"} 4"), std::string::npos);
  EXPECT_NE(text.find("# TYPE valtronics_enqueue_to_write_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("valtronics_enqueue_to_write_seconds_bucket{le=\"+Inf\"}"),
            std::string::npos);
  EXPECT_NE(text.find("valtronics_alerts_total{alert_type=\"threshold\",severity=\"critical\"}"),
            std::string::npos);
  // Without the engine's answer the family is left out rather than reported as zeros.
  f.devices_by_status.reset();
  EXPECT_EQ(render(f).find("valtronics_devices_total"), std::string::npos);
}

}  // namespace
}  // namespace valtronics::metrics
