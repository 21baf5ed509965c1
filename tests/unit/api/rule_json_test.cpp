// Tests of alert rules over HTTP (api/rule_json): every field of the JSON form, and every
// validation error of rule and rule patch bodies (each must name its field), durations, scope,
// null handling and patch semantics (all or nothing).
#include "api/rule_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "api/api_test_support.hpp"
#include "api/device_json.hpp"
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

// --- rules ------------------------------------------------------------------------------------

TEST(RuleJson, ToJsonHasEveryField) {
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
TEST(RuleJson, OneOfMessagesAreExact) {
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

TEST(RuleJson, CreateMinimalUsesDefaults) {
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

TEST(RuleJson, CreateWithEveryField) {
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

TEST(RuleJson, EveryConditionSeverityAndAlertType) {
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

TEST(RuleJson, Durations) {
  auto dur = [](json::value v) -> model::Result<AlertRule> {
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

TEST(RuleJson, CooldownSameRulesAsDuration) {
  auto cd = [](json::value v) -> model::Result<AlertRule> {
    json::object o{{"name", "r"}, {"metric", "m"}, {"condition", "gt"}, {"threshold", 1},
                   {"cooldown", v}};
    return rule_from_json(o);
  };
  EXPECT_EQ(cd("10m")->cooldown, 10min);
  EXPECT_EQ(cd(600)->cooldown, 600s);
  expect_invalid(cd(-0.5), "cooldown", "non-negative");
  expect_invalid(cd("soon"), "cooldown", "\"30s\"");
}

TEST(RuleJson, CreateErrors) {
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

TEST(RuleJson, CreateNullMeansDefault) {
  auto r = rule_from_json(J(R"({"name":"r","metric":"m","condition":"gt","threshold":1,
      "device_id":null,"device_type":null,"severity":null,"alert_type":null,"duration":null,
      "cooldown":null,"enabled":null})"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->device_id.has_value());
  EXPECT_EQ(r->severity, Severity::warning);
  EXPECT_TRUE(r->enabled);
}

TEST(RuleJson, ThresholdAcceptsIntegersAndDoubles) {
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

TEST(RuleJson, PatchAppliesGivenFieldsOnly) {
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

TEST(RuleJson, PatchScope) {
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

TEST(RuleJson, PatchNullResetsDurationsAndRefusesRequiredFields) {
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

TEST(RuleJson, PatchErrorsChangeNothing) {
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

TEST(RuleJson, PatchForbiddenAndShapeErrors) {
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

TEST(RuleJson, RoundTripThroughPatch) {
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

}  // namespace
}  // namespace valtronics::api
