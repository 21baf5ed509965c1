// Telemetry conflation of a shard's backlog: latest value per metric, one update per device at
// its last position, alerts/status/system untouched and in order, merged counts added up.
#include "hub/conflation.hpp"

#include <gtest/gtest.h>

namespace valtronics::hub {
namespace {

using model::Channel;

EventPtr telemetry(std::uint64_t id, std::int64_t device,
                   std::vector<std::pair<std::string, double>> values, std::uint32_t merged = 1) {
  auto e = std::make_shared<Event>();
  e->id = id;
  e->channel = Channel::telemetry;
  model::TelemetryEvent t{device, {}};
  for (auto& [name, v] : values) {
    model::MetricReading r;
    r.name = name;
    r.value = v;
    t.readings.push_back(r);
  }
  e->body = std::move(t);
  e->merged = merged;
  e->full_bytes = std::make_shared<const std::string>("{}");
  return e;
}

EventPtr alert(std::uint64_t id, std::int64_t device) {
  auto e = std::make_shared<Event>();
  e->id = id;
  e->channel = Channel::alerts;
  model::AlertEvent a;
  a.alert_id = static_cast<std::int64_t>(id);
  a.device_id = device;
  e->body = a;
  return e;
}

EventPtr status(std::uint64_t id, std::int64_t device) {
  auto e = std::make_shared<Event>();
  e->id = id;
  e->channel = Channel::devices;
  model::DeviceStatusEvent s;
  s.device_id = device;
  e->body = s;
  return e;
}

std::vector<std::uint64_t> ids(const std::vector<EventPtr>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) out.push_back(e->id);
  return out;
}

double value_of(const EventPtr& e, const std::string& metric) {
  for (const auto& r : std::get<model::TelemetryEvent>(e->body).readings)
    if (r.name == metric) return r.value;
  ADD_FAILURE() << "no " << metric << " in event " << e->id;
  return 0;
}

TEST(Conflation, NothingToMergeLeavesTheBatchAlone) {
  std::vector<EventPtr> batch{telemetry(1, 1, {{"t", 1}}), telemetry(2, 2, {{"t", 2}}),
                              alert(3, 1)};
  const auto before = batch;
  EXPECT_EQ(conflate_telemetry(batch), 0u);
  EXPECT_EQ(batch, before);  // the same pointers: nothing re-serialized
}

TEST(Conflation, OneUpdatePerDeviceWithTheLatestValueOfEachMetric) {
  std::vector<EventPtr> batch{telemetry(1, 7, {{"t", 1}, {"h", 10}}), telemetry(2, 8, {{"t", 50}}),
                              telemetry(3, 7, {{"t", 2}}), telemetry(4, 7, {{"t", 3}, {"p", 5}})};
  EXPECT_EQ(conflate_telemetry(batch), 2u);
  ASSERT_EQ(ids(batch), (std::vector<std::uint64_t>{2, 4}));  // device 7 at its last position
  const auto& merged = batch[1];
  EXPECT_EQ(merged->merged, 3u);
  EXPECT_EQ(merged->device_id(), 7);
  EXPECT_EQ(value_of(merged, "t"), 3);   // the latest
  EXPECT_EQ(value_of(merged, "h"), 10);  // only in the first: kept
  EXPECT_EQ(value_of(merged, "p"), 5);
  // Metrics in the order they first appeared; the serialization is the merged body's.
  const auto& readings = std::get<model::TelemetryEvent>(merged->body).readings;
  ASSERT_EQ(readings.size(), 3u);
  EXPECT_EQ(readings[0].name, "t");
  EXPECT_EQ(readings[1].name, "h");
  EXPECT_EQ(readings[2].name, "p");
  EXPECT_NE(merged->full_bytes->find("\"p\""), std::string::npos);
  EXPECT_EQ(batch[0]->merged, 1u);  // device 8 had one update: untouched
}

TEST(Conflation, AlertsAndStatusChangesAreNeverMergedAndKeepTheirOrder) {
  std::vector<EventPtr> batch{telemetry(1, 1, {{"t", 1}}), alert(2, 1), status(3, 1),
                              telemetry(4, 1, {{"t", 2}}), alert(5, 1), telemetry(6, 1, {{"t", 3}}),
                              status(7, 1)};
  EXPECT_EQ(conflate_telemetry(batch), 2u);
  EXPECT_EQ(ids(batch), (std::vector<std::uint64_t>{2, 3, 5, 6, 7}));
  EXPECT_EQ(batch[3]->merged, 3u);
  EXPECT_EQ(value_of(batch[3], "t"), 3);
}

TEST(Conflation, MergedCountsAddUp) {
  // An update already standing for several (merged by an earlier drain) counts as that many.
  std::vector<EventPtr> batch{telemetry(1, 1, {{"t", 1}}, 4), telemetry(2, 1, {{"t", 2}})};
  EXPECT_EQ(conflate_telemetry(batch), 1u);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0]->merged, 5u);
}

}  // namespace
}  // namespace valtronics::hub
