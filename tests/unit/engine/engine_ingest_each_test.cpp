// Engine::ingest_each (MQTT ingest, issue 12): each event stands alone. A refused one is named
// in the reply and left out; the others are applied and published, in order.
#include <gtest/gtest.h>

#include "engine/engine_fixture.hpp"

namespace valtronics::engine::test {
namespace {

using Verdicts = std::vector<std::optional<model::DomainError>>;

class EngineIngestEach : public EngineTest {
 protected:
  Verdicts ingest_each(std::vector<model::TelemetryEvent> events) {
    return ask<Verdicts>(
        [&](auto reply) { engine->ingest_each(std::move(events), std::move(reply)); });
  }
};

TEST_F(EngineIngestEach, AnUnknownDeviceIsRefusedAloneWithoutAutoRegistration) {
  cfg.ingest.auto_register = false;
  start_engine();
  ASSERT_TRUE(create_device(1, "known"));
  ASSERT_TRUE(create_device(3, "also known"));
  settle();
  recorder.clear();
  auto v = ingest_each({reading(1, "t", 1), reading(2, "t", 2), reading(3, "t", 3)});
  ASSERT_EQ(v.size(), 3u);
  EXPECT_FALSE(v[0]);
  ASSERT_TRUE(v[1]);
  EXPECT_EQ(v[1]->kind, model::DomainError::Kind::device_not_found);
  EXPECT_EQ(v[1]->details.at("device_id").as_int64(), 2);
  EXPECT_FALSE(v[2]);
  settle();
  std::vector<std::int64_t> published;
  for (const auto& e : recorder.bodies<model::TelemetryEvent>()) published.push_back(e.device_id);
  EXPECT_EQ(published, (std::vector<std::int64_t>{1, 3}));
  EXPECT_FALSE(get_device(2));  // not registered by the refused reading
}

TEST_F(EngineIngestEach, UnknownDevicesAreRegisteredWithAutoRegistration) {
  start_engine();  // ingest.auto_register is on by default
  auto v = ingest_each({reading(7, "t", 1), reading(8, "t", 2)});
  EXPECT_FALSE(v[0]);
  EXPECT_FALSE(v[1]);
  settle();
  EXPECT_TRUE(get_device(7));
  EXPECT_TRUE(get_device(8));
}

TEST_F(EngineIngestEach, TheMetricCapCountsEarlierEventsOfTheSameCall) {
  cfg.ingest.max_metrics_per_device = 2;
  start_engine();
  auto v = ingest_each({reading(1, "a", 1), reading(1, "b", 1), reading(1, "c", 1),
                        reading(1, "a", 2), reading(2, "c", 1)});
  EXPECT_FALSE(v[0]);
  EXPECT_FALSE(v[1]);
  ASSERT_TRUE(v[2]);  // a third metric for device 1
  EXPECT_NE(v[2]->message.find("max_metrics_per_device"), std::string::npos);
  EXPECT_FALSE(v[3]);  // a known metric again
  EXPECT_FALSE(v[4]);  // another device has its own room
  settle();
  EXPECT_EQ(recorder.bodies<model::TelemetryEvent>().size(), 4u);
}

}  // namespace
}  // namespace valtronics::engine::test
