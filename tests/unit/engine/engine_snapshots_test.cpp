// Engine: telemetry and status snapshots, current as of a hub event id (every event up to
// `as_of` is reflected in the snapshot, none after it), within the filters and the token's
// devices. A temporary SQLite file, a real hub and the engine's thread (engine_fixture.hpp).
#include <gtest/gtest.h>

#include "engine/engine_fixture.hpp"

namespace valtronics::engine::test {
namespace {

using model::DeviceStatus;
using model::DeviceStatusEvent;
using model::TelemetryEvent;

class EngineSnapshots : public EngineTest {
 protected:
  model::Snapshot<TelemetryEvent> telemetry(protocol::Filters f = {}, auth::Claims c = admin()) {
    return ask<model::Snapshot<TelemetryEvent>>(
        [&](auto reply) { engine->telemetry_snapshot(f, c, std::move(reply)); });
  }
  model::Snapshot<DeviceStatusEvent> status(protocol::Filters f = {}, auth::Claims c = admin()) {
    return ask<model::Snapshot<DeviceStatusEvent>>(
        [&](auto reply) { engine->status_snapshot(f, c, std::move(reply)); });
  }
};

double value_of(const TelemetryEvent& e, const std::string& metric) {
  for (const auto& r : e.readings)
    if (r.name == metric) return r.value;
  ADD_FAILURE() << "no " << metric << " for device " << e.device_id;
  return -1;
}

TEST_F(EngineSnapshots, TelemetryHoldsTheLatestValuesAsOfTheLastEventReflected) {
  start_engine();
  ASSERT_TRUE(ingest({reading(1, "temperature", 20), reading(1, "humidity", 40),
                      reading(2, "temperature", 25)}));
  ASSERT_TRUE(ingest({reading(1, "temperature", 21)}));
  settle();
  auto snap = telemetry();
  EXPECT_EQ(snap.as_of, recorder.last_id());  // nothing published since
  ASSERT_EQ(snap.items.size(), 2u);
  EXPECT_EQ(snap.items[0].device_id, 1);
  EXPECT_DOUBLE_EQ(value_of(snap.items[0], "temperature"), 21);
  EXPECT_DOUBLE_EQ(value_of(snap.items[0], "humidity"), 40);
  EXPECT_DOUBLE_EQ(value_of(snap.items[1], "temperature"), 25);

  const auto before = snap.as_of;
  ASSERT_TRUE(ingest({reading(2, "temperature", 26)}));
  auto next = telemetry();  // on the engine thread, after the ingest: it is reflected
  EXPECT_GT(next.as_of, before);
  EXPECT_DOUBLE_EQ(value_of(next.items[1], "temperature"), 26);
  settle();
  EXPECT_EQ(next.as_of, recorder.last_id());
}

TEST_F(EngineSnapshots, TelemetryWithinFiltersAndClaims) {
  start_engine();
  ASSERT_TRUE(ingest({reading(1, "temperature", 20), reading(1, "humidity", 40),
                      reading(2, "temperature", 25), reading(3, "co2", 800)}));
  protocol::Filters humidity;
  humidity.metrics = {"humidity"};
  auto h = telemetry(humidity);
  ASSERT_EQ(h.items.size(), 1u);  // devices without the metric are left out
  EXPECT_EQ(h.items[0].device_id, 1);
  ASSERT_EQ(h.items[0].readings.size(), 1u);
  EXPECT_EQ(h.items[0].readings[0].name, "humidity");

  protocol::Filters devices;
  devices.device_ids = {2, 3};
  EXPECT_EQ(telemetry(devices).items.size(), 2u);
  auto mine = telemetry({}, user_of({3}));
  ASSERT_EQ(mine.items.size(), 1u);
  EXPECT_EQ(mine.items[0].device_id, 3);
  EXPECT_TRUE(telemetry(devices, user_of({1})).items.empty());
}

TEST_F(EngineSnapshots, StatusOfEachDeviceAsOfTheLastTransition) {
  start_engine();
  ASSERT_TRUE(create_device(1, "a"));
  ASSERT_TRUE(create_device(2, "b"));
  ASSERT_TRUE(create_device(3, "c"));
  ASSERT_TRUE(ingest({reading(2, "temperature", 20)}));
  model::StatusReport report{DeviceStatus::maintenance, "service", {}};
  ASSERT_TRUE(ask<model::Result<model::Device>>(
      [&](auto reply) { engine->report_status(3, report, std::move(reply)); }));
  settle();
  auto snap = status();
  EXPECT_EQ(snap.as_of, recorder.last_id());
  ASSERT_EQ(snap.items.size(), 3u);
  std::vector<DeviceStatus> now;
  for (const auto& e : snap.items) {
    EXPECT_EQ(e.old_status, e.new_status);
    EXPECT_EQ(e.reason, "snapshot");
    now.push_back(e.new_status);
  }
  EXPECT_EQ(now, (std::vector<DeviceStatus>{DeviceStatus::offline, DeviceStatus::online,
                                            DeviceStatus::maintenance}));
  EXPECT_TRUE(snap.items[1].last_seen.has_value());
  EXPECT_FALSE(snap.items[0].last_seen.has_value());

  protocol::Filters online;
  online.status_types = {DeviceStatus::online, DeviceStatus::maintenance};
  EXPECT_EQ(status(online).items.size(), 2u);
  online.device_ids = {3};
  EXPECT_EQ(status(online).items.at(0).device_id, 3);
  EXPECT_EQ(status({}, user_of({1, 2})).items.size(), 2u);
}

}  // namespace
}  // namespace valtronics::engine::test
