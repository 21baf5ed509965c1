// Tests of alerts over HTTP (api/alert_json): the JSON form of open and resolved alerts, and the
// notes body of acknowledge and resolve.
#include "api/alert_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "api/api_test_support.hpp"
#include "model/device.hpp"
#include "protocol/json_writer.hpp"

namespace valtronics::api {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using namespace test;
using model::Alert;
using model::AlertRule;
using model::AlertStatus;
using model::AlertType;
using model::Condition;
using model::Device;
using model::DeviceStatus;
using model::DeviceType;
using model::Severity;

const util::TimePoint T0 = util::TimePoint{} + 1'704'110'400s;  // 2024-01-01T12:00:00Z

// --- alerts -----------------------------------------------------------------------------------

TEST(AlertJson, ToJsonOpenAlert) {
  Alert a;
  a.id = 101;
  a.device_id = 3;
  a.severity = Severity::critical;
  a.alert_type = AlertType::threshold;
  a.title = "Hot";
  a.message = "temperature 41.5 > 40";
  a.timestamp = T0;
  a.metadata["threshold_value"] = 40;
  a.metadata["actual_value"] = 41.5;
  a.metadata["metric"] = "temperature";
  a.metadata["rule_id"] = 5;
  a.rule_id = 5;
  EXPECT_EQ(protocol::to_json(to_json(a)),
            R"({"alert_id":101,"device_id":3,"severity":"critical","alert_type":"threshold",)"
            R"("title":"Hot","message":"temperature 41.5 > 40","status":"active",)"
            R"("timestamp":"2024-01-01T12:00:00.000Z",)"
            R"("metadata":{"threshold_value":40,"actual_value":41.5,"metric":"temperature","rule_id":5},)"
            R"("rule_id":5,"acknowledged_at":null,"acknowledged_by":null,"resolved_at":null,)"
            R"("resolved_by":null,"notes":null})");
}

TEST(AlertJson, ToJsonResolvedAlert) {
  Alert a;
  a.id = 1;
  a.status = AlertStatus::resolved;
  a.acknowledged_at = T0 + 1s;
  a.acknowledged_by = "alice";
  a.resolved_at = T0 + 2s;
  a.resolved_by = "bob";
  a.notes = "fixed";
  auto o = to_json(a);
  EXPECT_TRUE(o.at("rule_id").is_null());
  EXPECT_EQ(o.at("status"), "resolved");
  EXPECT_EQ(o.at("acknowledged_at"), "2024-01-01T12:00:01.000Z");
  EXPECT_EQ(o.at("acknowledged_by"), "alice");
  EXPECT_EQ(o.at("resolved_at"), "2024-01-01T12:00:02.000Z");
  EXPECT_EQ(o.at("resolved_by"), "bob");
  EXPECT_EQ(o.at("notes"), "fixed");
  EXPECT_EQ(o.size(), 15u);
}

TEST(NotesJson, ValidBodies) {
  auto notes = [](const json::value& body) -> std::string {
    auto r = notes_from_json(body);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    return r.has_value() ? *r : std::string("<error>");
  };
  EXPECT_EQ(notes(json::value(nullptr)), "");
  EXPECT_EQ(notes(J("{}")), "");
  EXPECT_EQ(notes(J(R"({"notes":null})")), "");
  EXPECT_EQ(notes(J(R"({"notes":"Replaced fan"})")), "Replaced fan");
  EXPECT_EQ(notes(json::object{{"notes", std::string(2000, 'n')}}).size(), 2000u);
}

TEST(NotesJson, Errors) {
  expect_invalid(notes_from_json(J(R"({"notes":5})")), "notes", "string");
  expect_invalid(notes_from_json(json::object{{"notes", std::string(2001, 'n')}}), "notes", "2000");
  expect_invalid(notes_from_json(J(R"({"note":"x"})")), "note", "unknown");
  expect_invalid(notes_from_json(J("[]")), "body");
  expect_invalid(notes_from_json(J(R"("text")")), "body");
}

}  // namespace
}  // namespace valtronics::api
