// Alert rules: JSON form and request bodies. Order of checks: body shape, unknown keys (in body
// order), read-only keys, then each field in the model's order.
#include "api/rule_json.hpp"

#include <span>
#include <string>
#include <string_view>

#include "api/body_fields.hpp"
#include "config/limits.hpp"
#include "util/time.hpp"

namespace valtronics::api {

namespace json = boost::json;
using model::AlertRule;
using model::AlertType;
using body::Error;
using body::given;
using body::is_explicit_null;

namespace {

constexpr std::size_t kMaxName = limits::kMaxNameChars;  // config/limits.hpp, "stored text"

constexpr std::string_view kRuleFields[] = {
    "name",     "device_id",  "device_type", "metric",   "condition", "threshold",
    "severity", "alert_type", "duration",    "cooldown", "enabled"};
constexpr std::string_view kRuleReadOnly[] = {"id", "created_at", "updated_at"};
// The alert types a rule may raise (anomaly and manual alerts come from elsewhere).
constexpr AlertType kRuleAlertTypes[] = {AlertType::threshold, AlertType::device,
                                         AlertType::system};

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

Error read_rule_fields(const json::object& o, bool patch, AlertRule& r) {
  auto null_refused = [&](std::string_view key, std::string msg) -> Error {
    if (patch && is_explicit_null(o, key)) return model::invalid(std::string(key), std::move(msg));
    return std::nullopt;
  };

  if (auto e = null_refused("name", "name must be a non-empty string")) return e;
  if (const json::value* v = given(o, "name"))
    if (auto e = body::read_text(*v, "name", kMaxName, true, r.name)) return e;

  if (patch && is_explicit_null(o, "device_id")) r.device_id.reset();
  if (const json::value* v = given(o, "device_id")) {
    std::int64_t id = 0;
    if (auto e = body::read_positive_id(*v, "device_id", id)) return e;
    r.device_id = id;
  }
  if (patch && is_explicit_null(o, "device_type")) r.device_type.reset();
  if (const json::value* v = given(o, "device_type")) {
    model::DeviceType t{};
    if (auto e = body::read_one_of(*v, "device_type", t)) return e;
    r.device_type = t;
  }
  if (r.device_id && r.device_type) {
    // Name the field that made the conflict: device_type if the body sets it, else device_id.
    std::string field = given(o, "device_type") ? "device_type" : "device_id";
    return model::invalid(field,
                          field + " cannot be combined with " +
                              (field == "device_type" ? "device_id" : "device_type") +
                              ": a rule applies to one device, one device type, or all devices");
  }

  const std::string metric_msg = "metric must be a string matching [a-z0-9_.-]{1,64}";
  if (!patch && !given(o, "metric")) return model::invalid("metric", "metric is required");
  if (auto e = null_refused("metric", metric_msg)) return e;
  if (const json::value* v = given(o, "metric")) {
    if (!v->is_string() || !body::valid_metric_name(v->get_string()))
      return model::invalid("metric", metric_msg);
    r.metric = std::string(v->get_string());
  }

  const std::string conditions = model::names_list<model::Condition>();
  if (!patch && !given(o, "condition"))
    return model::invalid("condition", "condition is required (" + conditions + ")");
  if (auto e = null_refused("condition", "condition must be one of: " + conditions)) return e;
  if (const json::value* v = given(o, "condition"))
    if (auto e = body::read_one_of(*v, "condition", r.condition)) return e;

  if (!patch && !given(o, "threshold")) return model::invalid("threshold", "threshold is required");
  if (auto e = null_refused("threshold", "threshold must be a finite number")) return e;
  if (const json::value* v = given(o, "threshold")) {
    auto n = body::finite_number(*v);
    if (!n) return model::invalid("threshold", "threshold must be a finite number");
    r.threshold = *n;
  }

  if (patch && is_explicit_null(o, "severity"))
    return body::not_one_of<model::Severity>("severity");
  if (const json::value* v = given(o, "severity"))
    if (auto e = body::read_one_of(*v, "severity", r.severity)) return e;

  const std::span<const AlertType> rule_types(kRuleAlertTypes);
  if (patch && is_explicit_null(o, "alert_type")) return body::not_one_of("alert_type", rule_types);
  if (const json::value* v = given(o, "alert_type"))
    if (auto e = body::read_one_of(*v, "alert_type", r.alert_type, rule_types)) return e;

  if (is_explicit_null(o, "duration")) r.duration = std::chrono::milliseconds{0};
  if (const json::value* v = given(o, "duration"))
    if (auto e = body::read_duration(*v, "duration", r.duration)) return e;
  if (is_explicit_null(o, "cooldown")) r.cooldown = std::chrono::milliseconds{0};
  if (const json::value* v = given(o, "cooldown"))
    if (auto e = body::read_duration(*v, "cooldown", r.cooldown)) return e;

  if (auto e = null_refused("enabled", "enabled must be true or false")) return e;
  if (const json::value* v = given(o, "enabled")) {
    if (!v->is_bool()) return model::invalid("enabled", "enabled must be true or false");
    r.enabled = v->get_bool();
  }
  return std::nullopt;
}

}  // namespace

json::object to_json(const AlertRule& r) {
  json::object o;
  o["id"] = r.id;
  o["name"] = r.name;
  o["device_id"] = r.device_id ? json::value(*r.device_id) : json::value(nullptr);
  o["device_type"] =
      r.device_type ? json::value(model::to_string(*r.device_type)) : json::value(nullptr);
  o["metric"] = r.metric;
  o["condition"] = model::to_string(r.condition);
  o["threshold"] = r.threshold;
  o["severity"] = model::to_string(r.severity);
  o["alert_type"] = model::to_string(r.alert_type);
  o["duration"] = seconds(r.duration);
  o["cooldown"] = seconds(r.cooldown);
  o["enabled"] = r.enabled;
  o["created_at"] = util::iso8601(r.created_at);
  o["updated_at"] = util::iso8601(r.updated_at);
  return o;
}

model::Result<AlertRule> rule_from_json(const json::value& b) {
  if (auto e = body::check_keys(b, kRuleFields, kRuleReadOnly,
                                " is read-only: it is set by the server"))
    return *e;
  const json::object& o = b.get_object();
  if (!given(o, "name")) return model::invalid("name", "name is required");
  AlertRule r;
  if (auto e = read_rule_fields(o, false, r)) return *e;
  return r;
}

model::Result<void> apply_rule_patch(AlertRule& r, const json::value& b) {
  if (auto e = body::check_keys(b, kRuleFields, kRuleReadOnly, " cannot be changed")) return *e;
  const json::object& o = b.get_object();
  if (o.empty())
    return model::invalid("body", "body must contain at least one field to update (" +
                                      body::join(kRuleFields) + ")");
  AlertRule copy = r;
  if (auto e = read_rule_fields(o, true, copy)) return *e;
  r = std::move(copy);
  return {};
}

}  // namespace valtronics::api
