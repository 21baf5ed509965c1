// Tests of devices over HTTP (api/device_json): every field of the JSON form, and every
// validation error of device, device patch and status report bodies (each must name its field),
// unknown and read-only keys, null handling and patch semantics (all or nothing).
#include "api/device_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "api/api_test_support.hpp"
#include "model/alert.hpp"
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

// --- devices ----------------------------------------------------------------------------------

TEST(DeviceJson, ToJsonHasEveryField) {
  Device d;
  d.id = 3;
  d.name = "Boiler";
  d.device_type = DeviceType::monitor;
  d.location = "Basement";
  d.manufacturer = "Acme";
  d.model = "B-1";
  d.firmware_version = "1.2.3";
  d.metadata["sampling_rate"] = 60;
  d.status = DeviceStatus::online;
  d.last_seen = T0 + 5s;
  d.created_at = T0;
  d.updated_at = T0 + 1s;
  auto o = to_json(d);
  EXPECT_EQ(protocol::to_json(o),
            R"({"id":3,"name":"Boiler","device_type":"monitor","location":"Basement",)"
            R"("manufacturer":"Acme","model":"B-1","firmware_version":"1.2.3",)"
            R"("metadata":{"sampling_rate":60},"status":"online",)"
            R"("last_seen":"2024-01-01T12:00:05.000Z","created_at":"2024-01-01T12:00:00.000Z",)"
            R"("updated_at":"2024-01-01T12:00:01.000Z"})");
  d.last_seen.reset();
  EXPECT_TRUE(to_json(d).at("last_seen").is_null());
}

TEST(DeviceJson, CreateMinimalUsesDefaults) {
  auto r = device_from_json(J(R"({"name":"Probe"})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->id, 0);
  EXPECT_EQ(r->name, "Probe");
  EXPECT_EQ(r->device_type, DeviceType::sensor);
  EXPECT_EQ(r->status, DeviceStatus::offline);
  EXPECT_TRUE(r->metadata.empty());
  EXPECT_TRUE(r->location.empty());
  EXPECT_FALSE(r->last_seen.has_value());
}

TEST(DeviceJson, CreateWithEveryField) {
  auto r = device_from_json(J(R"({"id":12,"name":"Gateway A","device_type":"gateway",
      "location":"Roof","manufacturer":"Acme","model":"GW","firmware_version":"2.0",
      "metadata":{"a":[1,2]},"status":"maintenance"})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->id, 12);
  EXPECT_EQ(r->name, "Gateway A");
  EXPECT_EQ(r->device_type, DeviceType::gateway);
  EXPECT_EQ(r->location, "Roof");
  EXPECT_EQ(r->manufacturer, "Acme");
  EXPECT_EQ(r->model, "GW");
  EXPECT_EQ(r->firmware_version, "2.0");
  EXPECT_EQ(protocol::to_json(json::value(r->metadata)), R"({"a":[1,2]})");
  EXPECT_EQ(r->status, DeviceStatus::maintenance);
}

TEST(DeviceJson, CreateAcceptsEveryTypeAndStatus) {
  for (auto t : model::all_values<DeviceType>()) {
    json::object o{{"name", "x"}, {"device_type", model::to_string(t)}};
    auto r = device_from_json(o);
    ASSERT_TRUE(r.has_value()) << model::to_string(t);
    EXPECT_EQ(r->device_type, t);
  }
  for (auto s : model::all_values<DeviceStatus>()) {
    json::object o{{"name", "x"}, {"status", model::to_string(s)}};
    auto r = device_from_json(o);
    ASSERT_TRUE(r.has_value()) << model::to_string(s);
    EXPECT_EQ(r->status, s);
  }
}

TEST(DeviceJson, CreateNullMeansNotGiven) {
  auto r = device_from_json(
      J(R"({"name":"x","id":null,"device_type":null,"location":null,"metadata":null,"status":null})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->device_type, DeviceType::sensor);
  EXPECT_EQ(r->status, DeviceStatus::offline);
  EXPECT_EQ(r->id, 0);
}

TEST(DeviceJson, CreateErrors) {
  expect_invalid(device_from_json(J("[]")), "body");
  expect_invalid(device_from_json(J("null")), "body");
  expect_invalid(device_from_json(J(R"("x")")), "body");
  expect_invalid(device_from_json(J("{}")), "name", "required");
  expect_invalid(device_from_json(J(R"({"name":null})")), "name", "required");
  expect_invalid(device_from_json(J(R"({"name":""})")), "name", "empty");
  expect_invalid(device_from_json(J(R"({"name":"   "})")), "name", "empty");
  expect_invalid(device_from_json(J(R"({"name":5})")), "name", "string");
  expect_invalid(device_from_json(json::object{{"name", std::string(201, 'a')}}), "name", "200");
  EXPECT_TRUE(device_from_json(json::object{{"name", std::string(200, 'a')}}).has_value());
  // 200 characters of two bytes each are still 200 characters
  std::string wide;
  for (int i = 0; i < 200; ++i) wide += "é";
  EXPECT_TRUE(device_from_json(json::object{{"name", wide}}).has_value());
  expect_invalid(device_from_json(J(R"({"name":"x","device_type":"toaster"})")), "device_type",
                 "sensor");
  expect_invalid(device_from_json(J(R"({"name":"x","device_type":1})")), "device_type");
  expect_invalid(device_from_json(J(R"({"name":"x","location":1})")), "location", "string");
  expect_invalid(device_from_json(J(R"({"name":"x","manufacturer":[]})")), "manufacturer");
  expect_invalid(device_from_json(J(R"({"name":"x","model":true})")), "model");
  expect_invalid(device_from_json(J(R"({"name":"x","firmware_version":1.5})")),
                 "firmware_version");
  expect_invalid(device_from_json(json::object{{"name", "x"}, {"location", std::string(201, 'l')}}),
                 "location", "200");
  expect_invalid(device_from_json(J(R"({"name":"x","metadata":[]})")), "metadata", "object");
  expect_invalid(device_from_json(J(R"({"name":"x","metadata":"a"})")), "metadata", "object");
  expect_invalid(device_from_json(J(R"({"name":"x","status":"sleeping"})")), "status", "online");
  expect_invalid(device_from_json(J(R"({"name":"x","status":0})")), "status");
}

TEST(DeviceJson, CreateIdMustBeAPositiveJsonInteger) {
  expect_invalid(device_from_json(J(R"({"name":"x","id":0})")), "id", "positive integer");
  expect_invalid(device_from_json(J(R"({"name":"x","id":-3})")), "id");
  expect_invalid(device_from_json(J(R"({"name":"x","id":1.0})")), "id");
  expect_invalid(device_from_json(J(R"({"name":"x","id":"1"})")), "id");
  expect_invalid(device_from_json(J(R"({"name":"x","id":18446744073709551615})")), "id");
  auto r = device_from_json(J(R"({"name":"x","id":9223372036854775807})"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, INT64_MAX);
}

TEST(DeviceJson, CreateUnknownAndReadOnlyKeys) {
  auto e = error_of(device_from_json(J(R"({"name":"x","colour":"red"})")));
  EXPECT_EQ(field_of(e), "colour");
  EXPECT_NE(e.message.find("unknown field"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("\"colour\""), std::string::npos) << e.message;
  auto e2 = error_of(device_from_json(J(R"({"name":"x","a":1,"b":2})")));
  EXPECT_EQ(field_of(e2), "a");
  EXPECT_NE(e2.message.find("\"a\", \"b\""), std::string::npos) << e2.message;
  for (auto k : {"created_at", "updated_at", "last_seen"}) {
    json::object o{{"name", "x"}, {k, "2024-01-01T00:00:00Z"}};
    expect_invalid(device_from_json(o), k, "read-only");
  }
  // a very long unknown key is echoed shortened
  json::object o{{"name", "x"}, {std::string(500, 'k'), 1}};
  auto e3 = error_of(device_from_json(o));
  EXPECT_LT(e3.message.size(), 400u);
  EXPECT_EQ(e3.field, std::string(64, 'k') + "...");
  // ...cut where a character starts, never inside one: 63 bytes and an "é" (2 bytes) is cut
  // before the "é".
  const std::string accented = std::string(63, 'k') + "\xC3\xA9" + "tail";
  auto e4 = error_of(device_from_json(json::object{{"name", "x"}, {accented, 1}}));
  EXPECT_EQ(e4.field, std::string(63, 'k') + "...");
  EXPECT_EQ(e4.message.find('\xC3'), std::string::npos) << e4.message;
}

TEST(DeviceJson, PatchAppliesGivenFieldsOnly) {
  Device d;
  d.id = 4;
  d.name = "Old";
  d.location = "Hall";
  d.manufacturer = "Acme";
  d.status = DeviceStatus::online;
  d.metadata["k"] = 1;
  auto r = apply_device_patch(d, J(R"({"name":"New","device_type":"actuator","model":"M2"})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(d.id, 4);
  EXPECT_EQ(d.name, "New");
  EXPECT_EQ(d.device_type, DeviceType::actuator);
  EXPECT_EQ(d.model, "M2");
  EXPECT_EQ(d.location, "Hall");
  EXPECT_EQ(d.manufacturer, "Acme");
  EXPECT_EQ(d.status, DeviceStatus::online);
  EXPECT_EQ(d.metadata.at("k"), 1);
  ASSERT_TRUE(apply_device_patch(d, J(R"({"metadata":{"z":true},"firmware_version":"9"})")));
  EXPECT_EQ(protocol::to_json(json::value(d.metadata)), R"({"z":true})");  // replaced
  EXPECT_EQ(d.firmware_version, "9");
}

TEST(DeviceJson, PatchNullClearsOptionalText) {
  Device d;
  d.name = "n";
  d.location = "Hall";
  d.metadata["k"] = 1;
  ASSERT_TRUE(apply_device_patch(d, J(R"({"location":null,"metadata":null})")));
  EXPECT_TRUE(d.location.empty());
  EXPECT_TRUE(d.metadata.empty());
  expect_invalid(apply_device_patch(d, J(R"({"name":null})")), "name");
  expect_invalid(apply_device_patch(d, J(R"({"device_type":null})")), "device_type");
}

TEST(DeviceJson, PatchErrorsChangeNothing) {
  Device d;
  d.name = "Old";
  d.location = "Hall";
  expect_invalid(apply_device_patch(d, J(R"({"location":"New","name":""})")), "name");
  expect_invalid(apply_device_patch(d, J(R"({"location":"New","device_type":"x"})")),
                 "device_type");
  expect_invalid(apply_device_patch(d, J(R"({"location":"New","metadata":5})")), "metadata");
  expect_invalid(apply_device_patch(d, J(R"({"location":"New","model":5})")), "model");
  EXPECT_EQ(d.name, "Old");
  EXPECT_EQ(d.location, "Hall");
}

TEST(DeviceJson, PatchRefusesForbiddenFields) {
  Device d;
  d.id = 4;
  d.name = "n";
  expect_invalid(apply_device_patch(d, J(R"({"id":4})")), "id", "cannot be changed");
  expect_invalid(apply_device_patch(d, J(R"({"name":"y","created_at":"2024-01-01T00:00:00Z"})")),
                 "created_at", "cannot be changed");
  expect_invalid(apply_device_patch(d, J(R"({"last_seen":null})")), "last_seen",
                 "cannot be changed");
  expect_invalid(apply_device_patch(d, J(R"({"updated_at":"x"})")), "updated_at");
  expect_invalid(apply_device_patch(d, J(R"({"status":"online"})")), "status",
                 "/api/v1/devices/{id}/status");
  EXPECT_EQ(d.name, "n");
}

TEST(DeviceJson, PatchShapeErrors) {
  Device d;
  expect_invalid(apply_device_patch(d, J("{}")), "body", "at least one");
  expect_invalid(apply_device_patch(d, J("[1]")), "body");
  expect_invalid(apply_device_patch(d, J("null")), "body");
  expect_invalid(apply_device_patch(d, J(R"({"name":"x","wheels":4})")), "wheels", "unknown");
}

TEST(StatusReportJson, Valid) {
  auto r = status_report_from_json(
      J(R"({"status":"maintenance","reason":"Calibration","metadata":{"ticket":42}})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, DeviceStatus::maintenance);
  EXPECT_EQ(r->reason, "Calibration");
  EXPECT_EQ(r->metadata.at("ticket"), 42);
  auto m = status_report_from_json(J(R"({"status":"error"})"));
  ASSERT_TRUE(m.has_value());
  EXPECT_TRUE(m->reason.empty());
  EXPECT_TRUE(m->metadata.empty());
  for (auto s : model::all_values<DeviceStatus>()) {
    auto r = status_report_from_json(json::object{{"status", model::to_string(s)}});
    ASSERT_TRUE(r.has_value()) << model::to_string(s);
    EXPECT_EQ(r->status, s);
  }
  EXPECT_TRUE(status_report_from_json(J(R"({"status":"online","reason":null,"metadata":null})")));
}

TEST(StatusReportJson, Errors) {
  expect_invalid(status_report_from_json(J("[]")), "body");
  expect_invalid(status_report_from_json(J("{}")), "status", "required");
  expect_invalid(status_report_from_json(J(R"({"status":null})")), "status", "required");
  expect_invalid(status_report_from_json(J(R"({"status":"asleep"})")), "status", "one of");
  expect_invalid(status_report_from_json(J(R"({"status":1})")), "status");
  expect_invalid(status_report_from_json(J(R"({"status":"online","reason":7})")), "reason",
                 "string");
  expect_invalid(
      status_report_from_json(json::object{{"status", "online"}, {"reason", std::string(1001, 'r')}}),
      "reason", "1000");
  expect_invalid(status_report_from_json(J(R"({"status":"online","metadata":[1]})")), "metadata",
                 "object");
  expect_invalid(status_report_from_json(J(R"({"status":"online","since":1})")), "since",
                 "unknown");
}

}  // namespace
}  // namespace valtronics::api
