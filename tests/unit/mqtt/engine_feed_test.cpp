// mqtt::EngineFeed against a real engine: messages are applied in arrival order, telemetry and
// status reports interleaved; a refused message is reported and counted, the others applied.
#include "mqtt/engine_feed.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <utility>
#include <vector>

#include "engine/engine_fixture.hpp"

namespace valtronics::engine::test {
namespace {

class EngineFeedTest : public EngineTest {
 protected:
  util::LinkStatus status{"mqtt://test:1883"};
  std::mutex mu;
  std::vector<std::pair<std::int64_t, std::string>> refusals;
  std::unique_ptr<mqtt::EngineFeed> feed;

  void start() {
    start_engine();
    feed = std::make_unique<mqtt::EngineFeed>(
        *engine, status, [this](std::int64_t device, const model::DomainError& e) {
          std::lock_guard lock(mu);
          refusals.emplace_back(device, e.message);
        });
  }
};

TEST_F(EngineFeedTest, AppliesInArrivalOrderAndReportsWhatItRefuses) {
  cfg.ingest.auto_register = false;
  start();
  ASSERT_TRUE(create_device(1, "pump"));
  settle();
  recorder.clear();
  model::StatusReport offline;
  offline.status = model::DeviceStatus::offline;
  offline.reason = "last will";
  ASSERT_TRUE(feed->push(reading(1, "level", 1)));
  ASSERT_TRUE(feed->push(1, offline));       // after the reading sent before it
  ASSERT_TRUE(feed->push(reading(2, "level", 2)));  // device 2 is not registered
  ASSERT_TRUE(feed->push(reading(1, "level", 3)));
  ASSERT_TRUE(feed->push(99, offline));      // no such device
  ASSERT_TRUE(feed->wait_idle(std::chrono::seconds(20)));
  settle();

  // What was published, in order: reading 1, the status change, reading 3.
  std::vector<std::string> order;
  for (const auto& e : recorder.events) {
    if (const auto* t = std::get_if<model::TelemetryEvent>(&e->body))
      order.push_back("telemetry " + std::to_string(t->readings.at(0).value));
    // (Readings also bring the device online: only the reported change is looked at.)
    if (const auto* s = std::get_if<model::DeviceStatusEvent>(&e->body); s && s->reason == "last will")
      order.push_back("status " + std::string(model::to_string(s->new_status)));
  }
  const std::vector<std::string> expected{"telemetry 1.000000", "status offline",
                                          "telemetry 3.000000"};
  EXPECT_EQ(order, expected);
  EXPECT_EQ(status.readings.load(), 2u);
  EXPECT_EQ(status.statuses.load(), 1u);
  EXPECT_EQ(status.rejected.load(), 2u);
  std::lock_guard lock(mu);
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].first, 2);
  EXPECT_EQ(refusals[1].first, 99);
}

TEST_F(EngineFeedTest, ABurstGoesToTheEngineInBatchesAndAllOfItIsApplied) {
  start();
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(feed->push(reading(1 + i % 10, "v", i)));
  ASSERT_TRUE(feed->wait_idle(std::chrono::seconds(20)));
  settle();
  EXPECT_EQ(status.readings.load(), 5000u);
  EXPECT_EQ(recorder.bodies<model::TelemetryEvent>().size(), 5000u);
  // Each device's readings arrive in the order pushed.
  std::vector<double> device1;
  for (const auto& t : recorder.bodies<model::TelemetryEvent>())
    if (t.device_id == 1) device1.push_back(t.readings.at(0).value);
  ASSERT_EQ(device1.size(), 500u);
  for (std::size_t i = 0; i < device1.size(); ++i) EXPECT_EQ(device1[i], 10.0 * i);
}

TEST_F(EngineFeedTest, NothingIsTakenAfterStop) {
  start();
  feed->stop();
  EXPECT_FALSE(feed->push(reading(1, "v", 1)));
  EXPECT_TRUE(feed->wait_idle(std::chrono::milliseconds(100)));
  EXPECT_EQ(feed->queued(), 0u);
}

}  // namespace
}  // namespace valtronics::engine::test
