// `valtronics simulate`'s fleet: ids from --first-id, the five demo models in turn, ingest batch
// bodies the server accepts (checked with api::parse_batch), realistic readings.
#include "cli/sim_fleet.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <map>

#include "api/ingest_body.hpp"

namespace valtronics::cli {
namespace {

using namespace std::chrono_literals;
const util::TimePoint kStart = util::TimePoint{} + 1'704'067'200s;  // 2024-01-01T00:00:00Z

TEST(SimFleet, IdsAndModels) {
  SimFleet f(100, 7, 1);
  ASSERT_EQ(f.devices().size(), 7u);
  const char* types[] = {"temperature", "humidity", "pressure", "air_quality", "vibration",
                         "temperature", "humidity"};
  for (std::size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(f.devices()[i].id, static_cast<std::int64_t>(100 + i));
    EXPECT_EQ(f.devices()[i].type, types[i]);
  }
  EXPECT_EQ(engine::device_model_types().size(), 5u);
}

TEST(SimFleet, MqttMessagesAreOneReadingEachOnTheDeviceTopics) {
  SimFleet f(40, 5, 3);
  auto msgs = f.messages(kStart, "site/vt");
  ASSERT_FALSE(msgs.empty());
  std::map<std::int64_t, int> per_device;
  for (const auto& m : msgs) {
    // site/vt/devices/{id}/telemetry/{metric}: what the server's MQTT ingest parses.
    const std::string head = "site/vt/devices/";
    ASSERT_EQ(m.topic.rfind(head, 0), 0u) << m.topic;
    const auto id_end = m.topic.find('/', head.size());
    const std::int64_t id = std::stoll(m.topic.substr(head.size(), id_end - head.size()));
    const std::string rest = m.topic.substr(id_end);
    ASSERT_EQ(rest.rfind("/telemetry/", 0), 0u) << m.topic;
    const std::string metric = rest.substr(11);
    auto parsed = api::parse_metric(m.payload, id, metric, kStart - 1h);
    ASSERT_TRUE(parsed.has_value()) << m.payload;
    EXPECT_EQ((*parsed)[0].readings.at(0).timestamp, kStart);  // the payload's own timestamp
    ++per_device[id];
  }
  EXPECT_EQ(per_device.size(), 5u);
  EXPECT_EQ(per_device.begin()->first, 40);
}

TEST(SimFleet, BodiesAreValidIngestBatches) {
  SimFleet f(1, 12, 7);
  auto tick = f.tick(kStart, 5);
  ASSERT_EQ(tick.bodies.size(), 3u);  // 12 devices, 5 per body
  std::size_t readings = 0, items = 0;
  for (const auto& body : tick.bodies) {
    auto parsed = api::parse_batch(body, 1000, kStart);
    ASSERT_TRUE(parsed.has_value()) << body;
    for (const auto& ev : *parsed) {
      readings += ev.readings.size();
      for (const auto& r : ev.readings) EXPECT_EQ(r.timestamp, kStart);
    }
    items += boost::json::parse(body).at("telemetry_data").as_array().size();
  }
  EXPECT_EQ(items, 12u);
  EXPECT_EQ(readings, tick.readings);
  // temperature 1, humidity 2, pressure 3, air quality 5, vibration 4 metrics; twice and a bit.
  EXPECT_EQ(tick.readings, 2u * (1 + 2 + 3 + 5 + 4) + 1 + 2);
}

TEST(SimFleet, ReadingsAreRealisticOverAnHour) {
  SimFleet f(1, 5, 3);
  std::map<std::string, std::pair<double, double>> range;  // metric -> min, max
  for (int s = 0; s < 3600; s += 2) {
    auto tick = f.tick(kStart + std::chrono::seconds(s));
    for (const auto& body : tick.bodies) {
      auto parsed = api::parse_batch(body, 1000, kStart);
      ASSERT_TRUE(parsed.has_value());
      for (const auto& ev : *parsed)
        for (const auto& r : ev.readings) {
          auto [it, fresh] = range.try_emplace(r.name, r.value, r.value);
          it->second.first = std::min(it->second.first, r.value);
          it->second.second = std::max(it->second.second, r.value);
        }
    }
  }
  EXPECT_GE(range["humidity"].first, 0.0);
  EXPECT_LE(range["humidity"].second, 100.0);
  EXPECT_GT(range["temperature"].first, -20.0);
  EXPECT_LT(range["temperature"].second, 60.0);
  EXPECT_GT(range["pressure"].first, 900.0);
  EXPECT_LT(range["pressure"].second, 1100.0);
  EXPECT_GE(range["aqi"].first, 0.0);
  EXPECT_LE(range["aqi"].second, 500.0);
  EXPECT_GT(range["co2"].first, 300.0);
  EXPECT_GT(range["vibration_rms"].first, 0.0);
  // Values move: a sensor stuck on one value is not a simulation.
  for (const auto& [name, mm] : range) EXPECT_LT(mm.first, mm.second) << name;
}

TEST(SimFleet, SameSeedSameReadings) {
  SimFleet a(1, 5, 99), b(1, 5, 99);
  for (int s = 0; s < 10; ++s) {
    auto t = kStart + std::chrono::seconds(s);
    EXPECT_EQ(a.tick(t).bodies, b.tick(t).bodies);
  }
}

}  // namespace
}  // namespace valtronics::cli
