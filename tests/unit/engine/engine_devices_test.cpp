// Engine: the device registry (create, get, list with claims, update, delete), telemetry's
// effect on devices (registration, last_seen, online), and status reports and transitions,
// each published on the devices channel and stored. A temporary SQLite file, a real hub and the
// engine's own thread (engine_fixture.hpp).
#include <gtest/gtest.h>

#include "engine/engine_fixture.hpp"

namespace valtronics::engine::test {
namespace {

using model::DeviceStatus;
using model::DeviceStatusEvent;
using model::DomainError;

using EngineDevices = EngineTest;

std::vector<std::int64_t> ids(const Page<model::Device>& page) {
  std::vector<std::int64_t> out;
  for (const auto& d : page.items) out.push_back(d.id);
  return out;
}

TEST_F(EngineDevices, CreateGetUpdateDeleteAndTheStoreFollows) {
  start_engine();
  const auto before = util::Clock::now();
  auto first = create_device(0, "first");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->id, 1);  // assigned
  EXPECT_EQ(first->status, DeviceStatus::offline);
  EXPECT_GE(first->created_at, before);
  EXPECT_EQ(first->created_at, first->updated_at);
  auto fifth = create_device(5, "fifth", model::DeviceType::gateway);
  ASSERT_TRUE(fifth);
  EXPECT_EQ(fifth->id, 5);
  EXPECT_EQ(create_device(0, "next")->id, 6);  // after the largest id

  auto dup = create_device(5, "again");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind, DomainError::Kind::conflict);
  EXPECT_EQ(dup.error().field, "id");

  auto got = get_device(5);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->name, "fifth");
  EXPECT_EQ(got->device_type, model::DeviceType::gateway);
  auto missing = get_device(99);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, DomainError::Kind::not_found);

  // The reply comes once the write is committed: another connection sees it.
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices"), 3);

  auto updated = ask<model::Result<model::Device>>([&](auto reply) {
    engine->update_device(
        5,
        [](model::Device& d) -> model::Result<void> {
          d.name = "renamed";
          d.location = "hall";
          d.id = 77;  // ignored: the id is the path's
          return {};
        },
        std::move(reply));
  });
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->id, 5);
  EXPECT_EQ(updated->name, "renamed");
  EXPECT_GE(updated->updated_at, fifth->updated_at);
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices WHERE id = 5 AND name = 'renamed' AND "
                  "location = 'hall'"),
            1);

  // A patch's refusal is the reply, and nothing changes.
  auto refused = ask<model::Result<model::Device>>([&](auto reply) {
    engine->update_device(
        5,
        [](model::Device& d) -> model::Result<void> {
          d.name = "half-applied";
          return model::invalid("name", "no");
        },
        std::move(reply));
  });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, DomainError::Kind::invalid);
  EXPECT_EQ(refused.error().field, "name");
  EXPECT_EQ(get_device(5)->name, "renamed");

  auto gone = ask<model::Result<model::Device>>(
      [&](auto reply) { engine->delete_device(5, std::move(reply)); });
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->name, "renamed");
  EXPECT_FALSE(get_device(5));
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices WHERE id = 5"), 0);
  auto again = ask<model::Result<model::Device>>(
      [&](auto reply) { engine->delete_device(5, std::move(reply)); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, DomainError::Kind::not_found);

  restart_engine();
  EXPECT_EQ(ids(*list_devices({})), (std::vector<std::int64_t>{1, 6}));
  EXPECT_EQ(create_device(0, "after restart")->id, 7);
}

TEST_F(EngineDevices, ListFiltersByClaimsStatusTypeAndPage) {
  start_engine();
  for (int i = 1; i <= 4; ++i)
    ASSERT_TRUE(create_device(i, "d" + std::to_string(i),
                              i % 2 ? model::DeviceType::sensor : model::DeviceType::monitor));
  ASSERT_TRUE(ingest({reading(3, "temperature", 20)}));  // device 3 comes online

  EXPECT_EQ(ids(*list_devices({})), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(ids(*list_devices({}, user_of({1, 3, 9}))), (std::vector<std::int64_t>{1, 3}));
  auth::Claims everything = user_of({});
  everything.all_devices = true;
  EXPECT_EQ(list_devices({}, everything)->total, 4u);
  auth::Claims device_token;
  device_token.role = auth::Role::device;
  device_token.device_id = 1;
  device_token.all_devices = true;
  EXPECT_EQ(list_devices({}, device_token)->total, 0u);

  // A device the token does not cover does not exist for it.
  auto hidden = get_device(2, user_of({1, 3}));
  ASSERT_FALSE(hidden);
  EXPECT_EQ(hidden.error().kind, DomainError::Kind::not_found);
  EXPECT_TRUE(get_device(3, user_of({1, 3})));

  DeviceQuery online;
  online.status = DeviceStatus::online;
  EXPECT_EQ(ids(*list_devices(online)), (std::vector<std::int64_t>{3}));
  DeviceQuery monitors;
  monitors.device_type = model::DeviceType::monitor;
  EXPECT_EQ(ids(*list_devices(monitors)), (std::vector<std::int64_t>{2, 4}));

  DeviceQuery page;
  page.page = 2;
  page.size = 3;
  auto second = list_devices(page);
  EXPECT_EQ(ids(*second), (std::vector<std::int64_t>{4}));
  EXPECT_EQ(second->total, 4u);
  page.page = 3;
  EXPECT_TRUE(list_devices(page)->items.empty());
}

TEST_F(EngineDevices, TelemetryBringsADeviceOnlineOncePublishedAndStored) {
  start_engine();
  ASSERT_TRUE(create_device(1, "probe"));
  settle();
  recorder.clear();
  const auto before = util::Clock::now();
  auto n = ingest({reading(1, "temperature", 21.5), reading(1, "humidity", 40)});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  ASSERT_TRUE(ingest({reading(1, "temperature", 22)}));
  settle();

  auto status = recorder.bodies<DeviceStatusEvent>();
  ASSERT_EQ(status.size(), 1u);  // offline -> online once, not per reading
  EXPECT_EQ(status[0].device_id, 1);
  EXPECT_EQ(status[0].old_status, DeviceStatus::offline);
  EXPECT_EQ(status[0].new_status, DeviceStatus::online);
  ASSERT_TRUE(status[0].last_seen);
  EXPECT_GE(*status[0].last_seen, before);
  EXPECT_EQ(recorder.bodies<model::TelemetryEvent>().size(), 3u);

  auto d = get_device(1);
  EXPECT_EQ(d->status, DeviceStatus::online);
  ASSERT_TRUE(d->last_seen);
  EXPECT_GE(*d->last_seen, before);
  EXPECT_EQ(count("SELECT COUNT(*) FROM device_status_changes WHERE device_id = 1 AND "
                  "old_status = 'offline' AND new_status = 'online'"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices WHERE id = 1 AND status = 'online' AND "
                  "last_seen IS NOT NULL"),
            1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM latest_metrics WHERE device_id = 1"), 2);

  auto latest = ask<model::Result<std::vector<model::MetricValue>>>(
      [&](auto reply) { engine->latest_telemetry(1, admin(), std::move(reply)); });
  ASSERT_TRUE(latest);
  ASSERT_EQ(latest->size(), 2u);
  EXPECT_EQ((*latest)[1].metric, "temperature");
  EXPECT_DOUBLE_EQ((*latest)[1].value, 22);
  auto hidden = ask<model::Result<std::vector<model::MetricValue>>>(
      [&](auto reply) { engine->latest_telemetry(1, user_of({2}), std::move(reply)); });
  EXPECT_FALSE(hidden);
}

TEST_F(EngineDevices, TelemetryOfAnUnknownDeviceRegistersIt) {
  start_engine();
  ASSERT_TRUE(ingest({reading(42, "temperature", 20)}));
  settle();
  auto d = get_device(42);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->name, "Device 42");
  EXPECT_EQ(d->status, DeviceStatus::online);
  EXPECT_EQ(d->metadata.at("auto_registered"), true);
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices WHERE id = 42"), 1);
  EXPECT_EQ(create_device(0, "next")->id, 43);
}

TEST_F(EngineDevices, WithoutAutoRegistrationAnUnknownDeviceRefusesTheWholeRequest) {
  cfg.ingest.auto_register = false;
  start_engine();
  ASSERT_TRUE(create_device(1, "known"));
  settle();
  recorder.clear();
  auto r = ingest({reading(1, "temperature", 20), reading(7, "temperature", 21)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, DomainError::Kind::device_not_found);
  EXPECT_EQ(r.error().details.at("device_id"), 7);
  settle();
  EXPECT_TRUE(recorder.events.empty());  // nothing applied, not even device 1's reading
  EXPECT_EQ(get_device(1)->status, DeviceStatus::offline);
  EXPECT_FALSE(get_device(7));
}

TEST_F(EngineDevices, StatusReportsTransitionPublishAndStore) {
  start_engine();
  ASSERT_TRUE(create_device(1, "pump"));
  settle();
  recorder.clear();
  auto report = [&](DeviceStatus s, std::string reason, boost::json::object metadata = {}) {
    model::StatusReport r{s, std::move(reason), std::move(metadata)};
    return ask<model::Result<model::Device>>(
        [&](auto reply) { engine->report_status(1, r, std::move(reply)); });
  };
  auto d = report(DeviceStatus::maintenance, "service", {{"technician", "bob"}});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, DeviceStatus::maintenance);
  EXPECT_EQ(d->metadata.at("technician"), "bob");
  ASSERT_TRUE(report(DeviceStatus::maintenance, "still"));  // same status: no transition
  ASSERT_TRUE(report(DeviceStatus::error, "fault"));
  settle();

  auto events = recorder.bodies<DeviceStatusEvent>();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].old_status, DeviceStatus::offline);
  EXPECT_EQ(events[0].new_status, DeviceStatus::maintenance);
  EXPECT_EQ(events[0].reason, "service");
  EXPECT_EQ(events[1].old_status, DeviceStatus::maintenance);
  EXPECT_EQ(events[1].new_status, DeviceStatus::error);
  EXPECT_EQ(events[1].reason, "fault");
  EXPECT_LT(recorder.events.front()->id, recorder.events.back()->id);
  EXPECT_EQ(count("SELECT COUNT(*) FROM device_status_changes WHERE device_id = 1"), 2);
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices WHERE id = 1 AND status = 'error' AND "
                  "metadata LIKE '%technician%'"),
            1);

  model::StatusReport r{DeviceStatus::online, "", {}};
  auto unknown = ask<model::Result<model::Device>>(
      [&](auto reply) { engine->report_status(9, r, std::move(reply)); });
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, DomainError::Kind::not_found);

  restart_engine();
  EXPECT_EQ(get_device(1)->status, DeviceStatus::error);
}

}  // namespace
}  // namespace valtronics::engine::test
