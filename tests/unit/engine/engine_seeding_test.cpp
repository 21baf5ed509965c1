// Engine: demo seeding. Devices 1..n with the simulator's names and types, and the rules that
// match the simulator's ranges, only where none exist yet; all stored. A temporary SQLite file,
// a real hub and the engine's thread (engine_fixture.hpp).
#include <gtest/gtest.h>

#include "engine/engine_fixture.hpp"

namespace valtronics::engine::test {
namespace {

using EngineSeeding = EngineTest;

TEST_F(EngineSeeding, SeedsDevicesAndRulesOnceAndStoresThem) {
  start_engine();
  engine->seed_demo(7);
  settle();
  DeviceQuery all;
  all.size = 100;
  auto page = list_devices(all);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->total, 7u);
  EXPECT_EQ(page->items[0].name, "Temperature Sensor 1");
  EXPECT_EQ(page->items[3].name, "Air Quality Monitor 1");
  EXPECT_EQ(page->items[3].device_type, model::DeviceType::monitor);
  EXPECT_EQ(page->items[5].name, "Temperature Sensor 2");
  EXPECT_EQ(page->items[6].device_type, model::DeviceType::sensor);
  for (const auto& d : page->items) {
    EXPECT_EQ(d.location, "Demo site");
    EXPECT_EQ(d.status, model::DeviceStatus::offline);
  }
  auto seeded = list_rules();
  ASSERT_EQ(seeded.size(), 11u);
  EXPECT_EQ(seeded[0].name, "High Temperature");
  EXPECT_EQ(seeded[0].metric, "temperature");
  EXPECT_EQ(seeded[0].condition, model::Condition::gt);
  EXPECT_DOUBLE_EQ(seeded[0].threshold, 35);
  EXPECT_EQ(seeded[1].severity, model::Severity::critical);
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices"), 7);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_rules"), 11);

  // Seeding again (or after a restart) adds only what is missing.
  engine->seed_demo(9);
  settle();
  auto more = list_devices(all);
  ASSERT_EQ(more->total, 9u);
  EXPECT_EQ(more->items[7].name, "Pressure Sensor 2");  // the numbering goes on
  EXPECT_EQ(more->items[8].name, "Air Quality Monitor 2");
  EXPECT_EQ(list_rules().size(), 11u);
  restart_engine();
  engine->seed_demo(9);
  settle();
  EXPECT_EQ(count("SELECT COUNT(*) FROM devices"), 9);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_rules"), 11);
  EXPECT_TRUE(recorder.events.empty());  // seeding publishes nothing
}

TEST_F(EngineSeeding, KeepsExistingDevicesAndRules) {
  start_engine();
  ASSERT_TRUE(create_device(2, "mine"));
  ASSERT_TRUE(create_rule(rule("temperature", model::Condition::gt, 99)));
  engine->seed_demo(3);
  settle();
  auto page = list_devices({});
  ASSERT_EQ(page->total, 3u);
  EXPECT_EQ(page->items[0].name, "Temperature Sensor 1");
  EXPECT_EQ(page->items[1].name, "mine");
  EXPECT_EQ(page->items[2].name, "Pressure Sensor 1");
  auto existing = list_rules();
  ASSERT_EQ(existing.size(), 1u);
  EXPECT_DOUBLE_EQ(existing[0].threshold, 99);
}

TEST_F(EngineSeeding, SeededRulesFireOnTheSimulatorsCriticalRange) {
  start_engine();
  engine->seed_demo(1);
  settle();
  ASSERT_TRUE(ingest({reading(1, "temperature", 42)}));  // above 35 and 40
  settle();
  auto raised = recorder.bodies<model::AlertEvent>();
  ASSERT_EQ(raised.size(), 2u);
  EXPECT_EQ(raised[0].title, "High Temperature");
  EXPECT_EQ(raised[1].title, "Critical Temperature");
  EXPECT_EQ(raised[1].severity, model::Severity::critical);
}

}  // namespace
}  // namespace valtronics::engine::test
