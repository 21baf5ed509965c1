// The MQTT payload forms of the ingest parser (issue 12): a topic names the device (and maybe
// the metric), the payload carries the rest, with HTTP ingest's validation.
#include <gtest/gtest.h>

#include <string>

#include "api/api_test_support.hpp"
#include "api/ingest_body.hpp"

namespace valtronics::api {
namespace {

using namespace std::chrono_literals;
using test::field_of;

const util::TimePoint kNow = util::TimePoint{} + 1'704'110'400s;  // 2024-01-01T12:00:00Z

TEST(IngestBodyMqtt, AMetricTopicTakesABareNumberOrAnObject) {
  auto r = parse_metric("21.5", 4, "temperature", kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].device_id, 4);
  ASSERT_EQ((*r)[0].readings.size(), 1u);
  EXPECT_EQ((*r)[0].readings[0].name, "temperature");
  EXPECT_EQ((*r)[0].readings[0].value, 21.5);
  EXPECT_EQ((*r)[0].readings[0].timestamp, kNow);

  r = parse_metric(
      R"({"value": 3, "unit": "°C", "timestamp": "2024-01-01T11:00:00Z", "metadata": {"s": 1}})",
      4, "temperature", kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].readings[0].value, 3);
  EXPECT_EQ((*r)[0].readings[0].unit, "°C");
  EXPECT_EQ((*r)[0].readings[0].timestamp, kNow - 1h);
}

TEST(IngestBodyMqtt, AMetricTopicRefusesWhatHttpIngestRefuses) {
  struct Case {
    const char* body;
    const char* metric;
    const char* field;
  };
  for (const Case& c : {Case{"\"21.5\"", "t", "body"}, Case{"true", "t", "body"},
                        Case{"{}", "t", "value"}, Case{R"({"value": "x"})", "t", "value"},
                        Case{R"({"value": 1, "unit": 5})", "t", "unit"},
                        Case{R"({"value": 1, "timestamp": "yesterday"})", "t", "timestamp"},
                        Case{R"({"value": 1, "metadata": []})", "t", "metadata"},
                        Case{"not json", "t", "body"}, Case{"", "t", "body"},
                        Case{"1", "Temperature", "metric_name"},
                        Case{"1", "has space", "metric_name"}}) {
    auto r = parse_metric(c.body, 1, c.metric, kNow);
    ASSERT_FALSE(r) << c.body << " on " << c.metric;
    EXPECT_EQ(field_of(r.error()), c.field) << c.body << ": " << r.error().message;
  }
}

TEST(IngestBodyMqtt, ATelemetryTopicTakesEitherFormWithTheDeviceFromTheTopic) {
  auto r = parse_for_device(R"({"metric_name": "level", "metric_value": 2})", 8, kNow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)[0].device_id, 8);
  EXPECT_EQ((*r)[0].readings[0].name, "level");

  r = parse_for_device(R"({"telemetry": {"a": {"value": 1}, "b": {"value": 2}}})", 8, kNow);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].readings.size(), 2u);

  // A device_id in the payload is accepted when it agrees with the topic...
  r = parse_for_device(R"({"device_id": 8, "metric_name": "level", "metric_value": 2})", 8, kNow);
  ASSERT_TRUE(r) << r.error().message;
  // ...and refused when it names another device.
  r = parse_for_device(R"({"device_id": 9, "metric_name": "level", "metric_value": 2})", 8, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(field_of(r.error()), "device_id");
  EXPECT_NE(r.error().message.find("topic names device 8"), std::string::npos);

  r = parse_for_device(R"([{"metric_name": "level", "metric_value": 2}])", 8, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(field_of(r.error()), "body");
}

}  // namespace
}  // namespace valtronics::api
