// The cluster's messages (cluster/wire.hpp): every event, request and answer survives the trip,
// and a message that is not one is a WireError, never a crash.
#include <gtest/gtest.h>

#include "cluster/wire.hpp"

namespace valtronics::cluster::wire {
namespace {

util::TimePoint at_micros(std::int64_t us) {
  return util::TimePoint(std::chrono::microseconds(us));
}

TEST(ClusterWire, TelemetryEventsRoundTrip) {
  model::TelemetryEvent t{42, {{"temperature", 21.5, "°C", at_micros(1'700'000'000'123'456)},
                               {"humidity", -3, "", at_micros(1'700'000'000'000'001)}}};
  auto back = std::get<model::TelemetryEvent>(decode_event(encode_event(t)));
  EXPECT_EQ(back.device_id, 42);
  ASSERT_EQ(back.readings.size(), 2u);
  EXPECT_EQ(back.readings[0].name, "temperature");
  EXPECT_EQ(back.readings[0].value, 21.5);
  EXPECT_EQ(back.readings[0].unit, "°C");
  EXPECT_EQ(back.readings[0].timestamp, t.readings[0].timestamp);
  EXPECT_EQ(back.readings[1].unit, "");
  EXPECT_EQ(back.readings[1].value, -3);
}

TEST(ClusterWire, AlertAndStatusEventsRoundTrip) {
  model::AlertEvent a;
  a.alert_id = 7;
  a.device_id = 3;
  a.severity = model::Severity::critical;
  a.alert_type = model::AlertType::device;
  a.title = "Hot";
  a.message = "temperature 60 > 50";
  a.status = model::AlertStatus::acknowledged;
  a.timestamp = at_micros(5);
  a.metadata = {{"rule_id", 9}, {"metric", "temperature"}};
  auto b = std::get<model::AlertEvent>(decode_event(encode_event(a)));
  EXPECT_EQ(b.alert_id, 7);
  EXPECT_EQ(b.severity, model::Severity::critical);
  EXPECT_EQ(b.alert_type, model::AlertType::device);
  EXPECT_EQ(b.status, model::AlertStatus::acknowledged);
  EXPECT_EQ(b.title, "Hot");
  EXPECT_EQ(b.metadata, a.metadata);

  model::DeviceStatusEvent s;
  s.device_id = 4;
  s.old_status = model::DeviceStatus::online;
  s.new_status = model::DeviceStatus::offline;
  s.reason = "No telemetry for 5m";
  s.timestamp = at_micros(10);
  s.last_seen = at_micros(3);
  auto t = std::get<model::DeviceStatusEvent>(decode_event(encode_event(s)));
  EXPECT_EQ(t.new_status, model::DeviceStatus::offline);
  EXPECT_EQ(t.reason, s.reason);
  EXPECT_EQ(t.last_seen, s.last_seen);
}

TEST(ClusterWire, IngestRequestsAndAnswersRoundTrip) {
  IngestRequest r{engine::IngestMode::each,
                  {{1, {{"t", 1, "", at_micros(1)}}}, {2, {{"t", 2, "", at_micros(2)}}}}};
  const auto text = encode_ingest(r);
  EXPECT_EQ(op_of(text), "ingest");
  auto back = decode_ingest(text);
  EXPECT_EQ(back.mode, engine::IngestMode::each);
  ASSERT_EQ(back.events.size(), 2u);
  EXPECT_EQ(back.events[1].device_id, 2);

  Answer a;
  a.verdicts = {std::nullopt, model::DomainError{model::DomainError::Kind::device_not_found,
                                                 "device 2 is not registered", "",
                                                 {{"device_id", 2}}}};
  auto b = decode_answer(encode_answer(a));
  EXPECT_FALSE(b.error);
  ASSERT_EQ(b.verdicts.size(), 2u);
  EXPECT_FALSE(b.verdicts[0]);
  EXPECT_EQ(b.verdicts[1]->kind, model::DomainError::Kind::device_not_found);
  EXPECT_EQ(b.verdicts[1]->details.at("device_id").as_int64(), 2);

  Answer refused;
  refused.error = model::DomainError{model::DomainError::Kind::unavailable, "busy", "", {}};
  EXPECT_EQ(decode_answer(encode_answer(refused)).error->kind,
            model::DomainError::Kind::unavailable);
}

TEST(ClusterWire, ReportsAndChangesRoundTrip) {
  ReportRequest r{17, {model::DeviceStatus::maintenance, "service", {{"by", "ops"}}}};
  const auto text = encode_report(r);
  EXPECT_EQ(op_of(text), "report");
  auto back = decode_report(text);
  EXPECT_EQ(back.device_id, 17);
  EXPECT_EQ(back.report.status, model::DeviceStatus::maintenance);
  EXPECT_EQ(back.report.metadata.at("by").as_string(), "ops");

  auto c = decode_change(encode_change({engine::Change::Kind::device, 12}));
  EXPECT_EQ(c.kind, engine::Change::Kind::device);
  EXPECT_EQ(c.id, 12);
}

TEST(ClusterWire, WhatIsNotAMessageIsAWireError) {
  for (const char* bad :
       {"", "not json", "[]", R"({"c":9,"e":{}})", R"({"c":0,"e":{"d":"x"}})",
        R"({"c":0,"e":{"d":1,"r":[{"n":"t"}]}})", R"({"c":2,"e":{"d":1,"o":99}})"})
    EXPECT_THROW(decode_event(bad), WireError) << bad;
  EXPECT_THROW(decode_ingest(R"({"op":"ingest","mode":7,"events":[]})"), WireError);
  EXPECT_THROW(decode_answer(R"({"err":{"k":99,"m":"","f":""}})"), WireError);
  EXPECT_THROW(decode_change(R"({"k":5,"id":1})"), WireError);
  EXPECT_THROW(op_of("{}"), WireError);
}

}  // namespace
}  // namespace valtronics::cluster::wire
