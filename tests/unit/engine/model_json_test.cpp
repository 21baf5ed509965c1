// Tests of the REST JSON forms: every field of devices, rules and alerts, and every validation
// error of device, device patch, status report, rule, rule patch and notes bodies (each must name
// its field), unknown and read-only keys, null handling and patch semantics (all or nothing).
#include "engine/model_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "protocol/json_writer.hpp"

namespace valtronics::engine {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
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

json::value J(std::string_view text) { return json::parse(text); }

std::string field_of(const ApiError& e) {
  auto* f = e.details.if_contains("field");
  return f && f->is_string() ? std::string(f->get_string()) : std::string("<none>");
}

template <class T>
ApiError error_of(const ApiResult<T>& r) {
  EXPECT_FALSE(r.has_value());
  return r.has_value() ? ApiError{} : r.error();
}

// Expects a 400 VALIDATION_ERROR naming `field`, whose message mentions `fragment`.
template <class T>
void expect_invalid(const ApiResult<T>& r, std::string_view field, std::string_view fragment = "") {
  ASSERT_FALSE(r.has_value()) << "expected an error on " << field;
  const ApiError& e = r.error();
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.code, "VALIDATION_ERROR");
  EXPECT_EQ(field_of(e), field) << e.message;
  EXPECT_NE(e.message.find(field), std::string::npos) << e.message;  // names the field
  if (!fragment.empty()) {
    EXPECT_NE(e.message.find(fragment), std::string::npos) << e.message;
  }
}

// --- errors -----------------------------------------------------------------------------------

TEST(ModelJsonErrors, ValidationErrorAndNotFound) {
  auto e = validation_error("threshold", "threshold must be a finite number");
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.code, "VALIDATION_ERROR");
  EXPECT_EQ(e.message, "threshold must be a finite number");
  EXPECT_EQ(field_of(e), "threshold");
  auto n = not_found("device", 7);
  EXPECT_EQ(n.http_status, 404);
  EXPECT_EQ(n.code, "NOT_FOUND");
  EXPECT_EQ(n.message, "device 7 not found");
}

// --- devices ----------------------------------------------------------------------------------

TEST(ModelJsonDevice, ToJsonHasEveryField) {
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

TEST(ModelJsonDevice, CreateMinimalUsesDefaults) {
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

TEST(ModelJsonDevice, CreateWithEveryField) {
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

TEST(ModelJsonDevice, CreateAcceptsEveryTypeAndStatus) {
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

TEST(ModelJsonDevice, CreateNullMeansNotGiven) {
  auto r = device_from_json(
      J(R"({"name":"x","id":null,"device_type":null,"location":null,"metadata":null,"status":null})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->device_type, DeviceType::sensor);
  EXPECT_EQ(r->status, DeviceStatus::offline);
  EXPECT_EQ(r->id, 0);
}

TEST(ModelJsonDevice, CreateErrors) {
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

TEST(ModelJsonDevice, CreateIdMustBeAPositiveJsonInteger) {
  expect_invalid(device_from_json(J(R"({"name":"x","id":0})")), "id", "positive integer");
  expect_invalid(device_from_json(J(R"({"name":"x","id":-3})")), "id");
  expect_invalid(device_from_json(J(R"({"name":"x","id":1.0})")), "id");
  expect_invalid(device_from_json(J(R"({"name":"x","id":"1"})")), "id");
  expect_invalid(device_from_json(J(R"({"name":"x","id":18446744073709551615})")), "id");
  auto r = device_from_json(J(R"({"name":"x","id":9223372036854775807})"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->id, INT64_MAX);
}

TEST(ModelJsonDevice, CreateUnknownAndReadOnlyKeys) {
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
}

TEST(ModelJsonDevice, PatchAppliesGivenFieldsOnly) {
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

TEST(ModelJsonDevice, PatchNullClearsOptionalText) {
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

TEST(ModelJsonDevice, PatchErrorsChangeNothing) {
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

TEST(ModelJsonDevice, PatchRefusesForbiddenFields) {
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

TEST(ModelJsonDevice, PatchShapeErrors) {
  Device d;
  expect_invalid(apply_device_patch(d, J("{}")), "body", "at least one");
  expect_invalid(apply_device_patch(d, J("[1]")), "body");
  expect_invalid(apply_device_patch(d, J("null")), "body");
  expect_invalid(apply_device_patch(d, J(R"({"name":"x","wheels":4})")), "wheels", "unknown");
}

TEST(ModelJsonStatusReport, Valid) {
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

TEST(ModelJsonStatusReport, Errors) {
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

// --- rules ------------------------------------------------------------------------------------

TEST(ModelJsonRule, ToJsonHasEveryField) {
  AlertRule r;
  r.id = 5;
  r.name = "Hot";
  r.device_id = 3;
  r.metric = "temperature";
  r.condition = Condition::gte;
  r.threshold = 25.5;
  r.severity = Severity::critical;
  r.alert_type = AlertType::threshold;
  r.duration = 30s;
  r.cooldown = 1500ms;
  r.enabled = false;
  r.created_at = T0;
  r.updated_at = T0 + 2s;
  EXPECT_EQ(protocol::to_json(to_json(r)),
            R"({"id":5,"name":"Hot","device_id":3,"device_type":null,"metric":"temperature",)"
            R"("condition":"gte","threshold":25.5,"severity":"critical","alert_type":"threshold",)"
            R"("duration":30,"cooldown":1.5,"enabled":false,"created_at":"2024-01-01T12:00:00.000Z",)"
            R"("updated_at":"2024-01-01T12:00:02.000Z"})");
  r.device_id.reset();
  r.device_type = DeviceType::sensor;
  auto o = to_json(r);
  EXPECT_TRUE(o.at("device_id").is_null());
  EXPECT_EQ(o.at("device_type"), "sensor");
  EXPECT_TRUE(o.at("duration").is_double());
}

// The "must be one of" messages list the names of model/enums.hpp, in value order; a rule's
// alert_type takes only threshold, device and system.
TEST(ModelJsonRule, OneOfMessagesAreExact) {
  auto message = [](const auto& r) { return r.has_value() ? std::string() : r.error().message; };
  const std::string base = R"("name":"r","metric":"m","threshold":1)";
  auto rule = [&](const std::string& extra) {
    return rule_from_json(J("{" + base + "," + extra + "}"));
  };
  EXPECT_EQ(message(rule(R"("condition":"between")")),
            "condition must be one of: gt, gte, lt, lte, eq, ne");
  EXPECT_EQ(message(rule_from_json(J("{" + base + "}"))),
            "condition is required (gt, gte, lt, lte, eq, ne)");
  EXPECT_EQ(message(rule(R"("condition":"gt","severity":"fatal")")),
            "severity must be one of: info, warning, critical");
  EXPECT_EQ(message(rule(R"("condition":"gt","alert_type":"manual")")),
            "alert_type must be one of: threshold, device, system");
  EXPECT_EQ(message(rule(R"("condition":"gt","device_type":"toaster")")),
            "device_type must be one of: sensor, actuator, gateway, controller, monitor");
  AlertRule r;
  EXPECT_EQ(message(apply_rule_patch(r, J(R"({"alert_type":null})"))),
            "alert_type must be one of: threshold, device, system");
  EXPECT_EQ(message(apply_rule_patch(r, J(R"({"severity":null})"))),
            "severity must be one of: info, warning, critical");
  EXPECT_EQ(message(device_from_json(J(R"({"name":"x","status":"asleep"})"))),
            "status must be one of: online, offline, warning, error, maintenance");
  EXPECT_EQ(message(status_report_from_json(J("{}"))),
            "status is required (online, offline, warning, error, maintenance)");
  Device d;
  EXPECT_EQ(message(apply_device_patch(d, J(R"({"device_type":null})"))),
            "device_type must be one of: sensor, actuator, gateway, controller, monitor");
}

TEST(ModelJsonRule, CreateMinimalUsesDefaults) {
  auto r = rule_from_json(
      J(R"({"name":"Hot","metric":"temperature","condition":"gt","threshold":30})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->id, 0);
  EXPECT_EQ(r->name, "Hot");
  EXPECT_FALSE(r->device_id.has_value());
  EXPECT_FALSE(r->device_type.has_value());
  EXPECT_EQ(r->metric, "temperature");
  EXPECT_EQ(r->condition, Condition::gt);
  EXPECT_DOUBLE_EQ(r->threshold, 30);
  EXPECT_EQ(r->severity, Severity::warning);
  EXPECT_EQ(r->alert_type, AlertType::threshold);
  EXPECT_EQ(r->duration, 0ms);
  EXPECT_EQ(r->cooldown, 0ms);
  EXPECT_TRUE(r->enabled);
}

TEST(ModelJsonRule, CreateWithEveryField) {
  auto r = rule_from_json(J(R"({"name":"Cold","device_id":7,"metric":"sensor.temp-1",
      "condition":"lte","threshold":-2.5,"severity":"critical","alert_type":"device",
      "duration":"30s","cooldown":90,"enabled":false})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->device_id, 7);
  EXPECT_EQ(r->metric, "sensor.temp-1");
  EXPECT_EQ(r->condition, Condition::lte);
  EXPECT_DOUBLE_EQ(r->threshold, -2.5);
  EXPECT_EQ(r->severity, Severity::critical);
  EXPECT_EQ(r->alert_type, AlertType::device);
  EXPECT_EQ(r->duration, 30s);
  EXPECT_EQ(r->cooldown, 90s);
  EXPECT_FALSE(r->enabled);
  auto t = rule_from_json(J(R"({"name":"T","device_type":"gateway","metric":"cpu_usage",
      "condition":"ne","threshold":1,"alert_type":"system","severity":"info"})"));
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->device_type, DeviceType::gateway);
  EXPECT_FALSE(t->device_id.has_value());
  EXPECT_EQ(t->alert_type, AlertType::system);
  EXPECT_EQ(t->severity, Severity::info);
}

TEST(ModelJsonRule, EveryConditionSeverityAndAlertType) {
  for (auto c : {"gt", "gte", "lt", "lte", "eq", "ne"}) {
    json::object o{{"name", "r"}, {"metric", "m"}, {"condition", c}, {"threshold", 1}};
    auto r = rule_from_json(o);
    ASSERT_TRUE(r.has_value()) << c;
    EXPECT_EQ(model::to_string(r->condition), c);
  }
  for (auto s : {"info", "warning", "critical"}) {
    json::object o{{"name", "r"}, {"metric", "m"}, {"condition", "gt"}, {"threshold", 1},
                   {"severity", s}};
    EXPECT_TRUE(rule_from_json(o).has_value()) << s;
  }
  for (auto a : {"threshold", "device", "system"}) {
    json::object o{{"name", "r"}, {"metric", "m"}, {"condition", "gt"}, {"threshold", 1},
                   {"alert_type", a}};
    EXPECT_TRUE(rule_from_json(o).has_value()) << a;
  }
}

TEST(ModelJsonRule, Durations) {
  auto dur = [](json::value v) -> ApiResult<AlertRule> {
    json::object o{{"name", "r"}, {"metric", "m"}, {"condition", "gt"}, {"threshold", 1},
                   {"duration", v}};
    return rule_from_json(o);
  };
  EXPECT_EQ(dur(0)->duration, 0ms);
  EXPECT_EQ(dur(0.0)->duration, 0ms);
  EXPECT_EQ(dur(30)->duration, 30s);
  EXPECT_EQ(dur(1.5)->duration, 1500ms);
  EXPECT_EQ(dur(0.25)->duration, 250ms);
  EXPECT_EQ(dur("30s")->duration, 30s);
  EXPECT_EQ(dur("5m")->duration, 5min);
  EXPECT_EQ(dur("1h")->duration, 1h);
  EXPECT_EQ(dur("500ms")->duration, 500ms);
  EXPECT_EQ(dur("0s")->duration, 0ms);
  EXPECT_EQ(dur("0")->duration, 0ms);
  EXPECT_EQ(dur(nullptr)->duration, 0ms);
  expect_invalid(dur(-1), "duration", "non-negative");
  expect_invalid(dur("-5s"), "duration");
  expect_invalid(dur("30"), "duration");
  expect_invalid(dur("1.5s"), "duration");
  expect_invalid(dur("30 s"), "duration");
  expect_invalid(dur("abc"), "duration");
  expect_invalid(dur(""), "duration");
  expect_invalid(dur(true), "duration");
  expect_invalid(dur(json::array{}), "duration");
  expect_invalid(dur(1e12), "duration", "365 days");
  expect_invalid(dur("9000h"), "duration", "365 days");
  EXPECT_EQ(dur(31536000)->duration, 31536000s);
}

TEST(ModelJsonRule, CooldownSameRulesAsDuration) {
  auto cd = [](json::value v) -> ApiResult<AlertRule> {
    json::object o{{"name", "r"}, {"metric", "m"}, {"condition", "gt"}, {"threshold", 1},
                   {"cooldown", v}};
    return rule_from_json(o);
  };
  EXPECT_EQ(cd("10m")->cooldown, 10min);
  EXPECT_EQ(cd(600)->cooldown, 600s);
  expect_invalid(cd(-0.5), "cooldown", "non-negative");
  expect_invalid(cd("soon"), "cooldown", "\"30s\"");
}

TEST(ModelJsonRule, CreateErrors) {
  const std::string base = R"("name":"r","metric":"m","condition":"gt","threshold":1)";
  auto with = [&](std::string extra) { return rule_from_json(J("{" + base + "," + extra + "}")); };
  expect_invalid(rule_from_json(J("[]")), "body");
  expect_invalid(rule_from_json(J("7")), "body");
  expect_invalid(rule_from_json(J(R"({"metric":"m","condition":"gt","threshold":1})")), "name",
                 "required");
  expect_invalid(rule_from_json(J(R"({"name":"","metric":"m","condition":"gt","threshold":1})")),
                 "name", "empty");
  expect_invalid(rule_from_json(J(R"({"name":3,"metric":"m","condition":"gt","threshold":1})")),
                 "name", "string");
  expect_invalid(rule_from_json(J(R"({"name":"r","condition":"gt","threshold":1})")), "metric",
                 "required");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"Temp","condition":"gt","threshold":1})")),
                 "metric", "[a-z0-9_.-]");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"","condition":"gt","threshold":1})")),
                 "metric");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"a b","condition":"gt","threshold":1})")),
                 "metric");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":5,"condition":"gt","threshold":1})")),
                 "metric");
  expect_invalid(rule_from_json(json::object{{"name", "r"}, {"metric", std::string(65, 'm')},
                                             {"condition", "gt"}, {"threshold", 1}}),
                 "metric");
  EXPECT_TRUE(rule_from_json(json::object{{"name", "r"}, {"metric", std::string(64, 'm')},
                                          {"condition", "gt"}, {"threshold", 1}}));
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"m","threshold":1})")), "condition",
                 "required");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"m","condition":">","threshold":1})")),
                 "condition", "gt, gte, lt, lte, eq, ne");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"m","condition":"GT","threshold":1})")),
                 "condition");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"m","condition":1,"threshold":1})")),
                 "condition");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"m","condition":"gt"})")), "threshold",
                 "required");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"m","condition":"gt","threshold":"5"})")),
                 "threshold", "threshold must be a finite number");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"m","condition":"gt","threshold":null})")),
                 "threshold", "required");
  expect_invalid(rule_from_json(J(R"({"name":"r","metric":"m","condition":"gt","threshold":[1]})")),
                 "threshold");
  {
    json::object o{{"name", "r"}, {"metric", "m"}, {"condition", "gt"},
                   {"threshold", std::numeric_limits<double>::infinity()}};
    expect_invalid(rule_from_json(o), "threshold", "finite");
    o["threshold"] = std::numeric_limits<double>::quiet_NaN();
    expect_invalid(rule_from_json(o), "threshold", "finite");
  }
  expect_invalid(with(R"("device_id":0)"), "device_id", "positive integer");
  expect_invalid(with(R"("device_id":-1)"), "device_id");
  expect_invalid(with(R"("device_id":1.0)"), "device_id");
  expect_invalid(with(R"("device_id":"1")"), "device_id");
  expect_invalid(with(R"("device_type":"toaster")"), "device_type", "sensor");
  expect_invalid(with(R"("device_id":1,"device_type":"sensor")"), "device_type", "device_id");
  expect_invalid(with(R"("severity":"high")"), "severity", "info, warning, critical");
  expect_invalid(with(R"("severity":1)"), "severity");
  expect_invalid(with(R"("alert_type":"anomaly")"), "alert_type", "threshold, device, system");
  expect_invalid(with(R"("enabled":"yes")"), "enabled", "true or false");
  expect_invalid(with(R"("enabled":1)"), "enabled");
  expect_invalid(with(R"("colour":"red")"), "colour", "unknown");
  expect_invalid(with(R"("id":3)"), "id", "read-only");
  expect_invalid(with(R"("created_at":"x")"), "created_at", "read-only");
  expect_invalid(with(R"("updated_at":"x")"), "updated_at", "read-only");
}

TEST(ModelJsonRule, CreateNullMeansDefault) {
  auto r = rule_from_json(J(R"({"name":"r","metric":"m","condition":"gt","threshold":1,
      "device_id":null,"device_type":null,"severity":null,"alert_type":null,"duration":null,
      "cooldown":null,"enabled":null})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->device_id.has_value());
  EXPECT_EQ(r->severity, Severity::warning);
  EXPECT_TRUE(r->enabled);
}

TEST(ModelJsonRule, ThresholdAcceptsIntegersAndDoubles) {
  auto th = [](std::string_view t) {
    return rule_from_json(
        J(std::string(R"({"name":"r","metric":"m","condition":"gt","threshold":)") + std::string(t) +
          "}"));
  };
  EXPECT_DOUBLE_EQ(th("0")->threshold, 0);
  EXPECT_DOUBLE_EQ(th("-40")->threshold, -40);
  EXPECT_DOUBLE_EQ(th("1e3")->threshold, 1000);
  EXPECT_DOUBLE_EQ(th("0.1")->threshold, 0.1);
  EXPECT_DOUBLE_EQ(th("18446744073709551615")->threshold, 18446744073709551615.0);
}

TEST(ModelJsonRule, PatchAppliesGivenFieldsOnly) {
  AlertRule r;
  r.id = 9;
  r.name = "Hot";
  r.metric = "temperature";
  r.threshold = 30;
  r.device_id = 3;
  r.cooldown = 60s;
  auto p = apply_rule_patch(r, J(R"({"threshold":35.5,"severity":"critical","duration":"1m",
      "enabled":false})"));
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(r.id, 9);
  EXPECT_EQ(r.name, "Hot");
  EXPECT_EQ(r.metric, "temperature");
  EXPECT_DOUBLE_EQ(r.threshold, 35.5);
  EXPECT_EQ(r.severity, Severity::critical);
  EXPECT_EQ(r.duration, 1min);
  EXPECT_EQ(r.cooldown, 60s);
  EXPECT_EQ(r.device_id, 3);
  EXPECT_FALSE(r.enabled);
  ASSERT_TRUE(apply_rule_patch(r, J(R"({"condition":"lt","metric":"humidity","name":"Dry",
      "alert_type":"system","cooldown":0})")));
  EXPECT_EQ(r.condition, Condition::lt);
  EXPECT_EQ(r.metric, "humidity");
  EXPECT_EQ(r.name, "Dry");
  EXPECT_EQ(r.alert_type, AlertType::system);
  EXPECT_EQ(r.cooldown, 0ms);
}

TEST(ModelJsonRule, PatchScope) {
  AlertRule r;
  r.name = "r";
  r.metric = "m";
  r.device_id = 3;
  // switching scope needs the old one cleared
  expect_invalid(apply_rule_patch(r, J(R"({"device_type":"sensor"})")), "device_type",
                 "device_id");
  EXPECT_EQ(r.device_id, 3);
  ASSERT_TRUE(apply_rule_patch(r, J(R"({"device_id":null,"device_type":"sensor"})")));
  EXPECT_FALSE(r.device_id.has_value());
  EXPECT_EQ(r.device_type, DeviceType::sensor);
  expect_invalid(apply_rule_patch(r, J(R"({"device_id":4})")), "device_id", "device_type");
  ASSERT_TRUE(apply_rule_patch(r, J(R"({"device_type":null})")));  // now global
  EXPECT_FALSE(r.device_id.has_value());
  EXPECT_FALSE(r.device_type.has_value());
  ASSERT_TRUE(apply_rule_patch(r, J(R"({"device_id":4})")));
  EXPECT_EQ(r.device_id, 4);
}

TEST(ModelJsonRule, PatchNullResetsDurationsAndRefusesRequiredFields) {
  AlertRule r;
  r.name = "r";
  r.metric = "m";
  r.duration = 5s;
  r.cooldown = 5s;
  ASSERT_TRUE(apply_rule_patch(r, J(R"({"duration":null,"cooldown":null})")));
  EXPECT_EQ(r.duration, 0ms);
  EXPECT_EQ(r.cooldown, 0ms);
  for (auto k : {"name", "metric", "condition", "threshold", "severity", "alert_type", "enabled"}) {
    json::object o{{k, nullptr}};
    expect_invalid(apply_rule_patch(r, o), k);
  }
}

TEST(ModelJsonRule, PatchErrorsChangeNothing) {
  AlertRule r;
  r.name = "r";
  r.metric = "m";
  r.threshold = 1;
  auto before = protocol::to_json(to_json(r));
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","threshold":"hot"})")), "threshold",
                 "finite number");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","condition":"above"})")), "condition");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","metric":"A"})")), "metric");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","severity":"urgent"})")), "severity");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","alert_type":"manual"})")), "alert_type");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","duration":-1})")), "duration");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","cooldown":"1x"})")), "cooldown");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","enabled":"no"})")), "enabled");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","device_id":0})")), "device_id");
  expect_invalid(apply_rule_patch(r, J(R"({"name":"x","device_type":"car"})")), "device_type");
  expect_invalid(apply_rule_patch(r, J(R"({"name":""})")), "name");
  EXPECT_EQ(protocol::to_json(to_json(r)), before);
}

TEST(ModelJsonRule, PatchForbiddenAndShapeErrors) {
  AlertRule r;
  r.name = "r";
  r.metric = "m";
  expect_invalid(apply_rule_patch(r, J(R"({"id":2})")), "id", "cannot be changed");
  expect_invalid(apply_rule_patch(r, J(R"({"created_at":"x"})")), "created_at", "cannot be changed");
  expect_invalid(apply_rule_patch(r, J(R"({"updated_at":"x"})")), "updated_at", "cannot be changed");
  expect_invalid(apply_rule_patch(r, J("{}")), "body", "at least one");
  expect_invalid(apply_rule_patch(r, J("[]")), "body");
  expect_invalid(apply_rule_patch(r, J(R"({"metric_name":"x"})")), "metric_name", "unknown");
}

TEST(ModelJsonRule, RoundTripThroughPatch) {
  // What a client GETs (minus read-only keys) can be sent back as a patch unchanged.
  AlertRule r;
  r.id = 1;
  r.name = "r";
  r.metric = "m";
  r.device_type = DeviceType::sensor;
  r.threshold = 2.5;
  r.duration = 1500ms;
  auto o = to_json(r);
  o.erase("id");
  o.erase("created_at");
  o.erase("updated_at");
  AlertRule copy = r;
  ASSERT_TRUE(apply_rule_patch(copy, o));
  EXPECT_EQ(protocol::to_json(to_json(copy)), protocol::to_json(to_json(r)));
  auto created = rule_from_json(o);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_EQ(created->duration, 1500ms);
}

// --- alerts -----------------------------------------------------------------------------------

TEST(ModelJsonAlert, ToJsonOpenAlert) {
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

TEST(ModelJsonAlert, ToJsonResolvedAlert) {
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

TEST(ModelJsonNotes, ValidBodies) {
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

TEST(ModelJsonNotes, Errors) {
  expect_invalid(notes_from_json(J(R"({"notes":5})")), "notes", "string");
  expect_invalid(notes_from_json(json::object{{"notes", std::string(2001, 'n')}}), "notes", "2000");
  expect_invalid(notes_from_json(J(R"({"note":"x"})")), "note", "unknown");
  expect_invalid(notes_from_json(J("[]")), "body");
  expect_invalid(notes_from_json(J(R"("text")")), "body");
}

}  // namespace
}  // namespace valtronics::engine
