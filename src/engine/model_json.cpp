// JSON forms of devices, rules and alerts, and validation of REST bodies. Validation never throws
// and stops at the first problem, returning one VALIDATION_ERROR whose details.field names it.
// Order of checks: body shape, unknown keys (in body order), read-only keys, then each field in
// the model's order. A patch is applied onto a copy, so a refused patch changes nothing.
//
// null: in a create body, null for an optional field means "not given" (clients serializing an
// Optional send null). In a patch, null clears fields that can be empty (device location,
// manufacturer, model, firmware_version, metadata; rule device_id/device_type, which makes the
// rule broader; duration and cooldown, back to 0); null for any other field is an error.
#include "engine/model_json.hpp"

#include <algorithm>
#include <boost/json/string.hpp>
#include <cmath>
#include <span>
#include <string_view>
#include <utility>

namespace valtronics::engine {

namespace json = boost::json;
using model::Alert;
using model::AlertRule;
using model::AlertType;
using model::Device;

ApiError validation_error(std::string field, std::string message) {
  ApiError e;
  e.http_status = 400;
  e.code = "VALIDATION_ERROR";
  e.message = std::move(message);
  e.details["field"] = std::move(field);
  return e;
}

ApiError not_found(std::string what, std::int64_t id) {
  ApiError e;
  e.http_status = 404;
  e.code = "NOT_FOUND";
  e.message = what + " " + std::to_string(id) + " not found";
  e.details["resource"] = what;
  e.details["id"] = id;
  return e;
}

namespace {

using Names = std::span<const std::string_view>;

constexpr std::size_t kMaxName = 200;
constexpr std::size_t kMaxText = 200;
constexpr std::size_t kMaxReason = 1000;
constexpr std::size_t kMaxNotes = 2000;
constexpr std::size_t kMaxMetric = 64;
constexpr std::size_t kMaxEchoedKey = 64;
constexpr double kMaxDurationSeconds = 365.0 * 24 * 3600;  // one year

json::value time_or_null(const std::optional<util::TimePoint>& t) {
  if (!t) return nullptr;
  return json::string(util::iso8601(*t));
}

json::value text_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return json::string(s);
}

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// Characters, not bytes: UTF-8 continuation bytes are not counted.
std::size_t char_count(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

bool blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

std::string echo(std::string_view key) {
  if (key.size() <= kMaxEchoedKey) return std::string(key);
  return std::string(key.substr(0, kMaxEchoedKey)) + "...";
}

std::string join(Names items, std::string_view sep = ", ") {
  std::string out;
  for (auto it : items) {
    if (!out.empty()) out += sep;
    out += it;
  }
  return out;
}

bool contains(Names set, std::string_view k) {
  for (auto s : set)
    if (s == k) return true;
  return false;
}

// The body must be an object; every key must be known; read-only keys are refused by name.
std::optional<ApiError> check_keys(const json::value& body,
                                   Names allowed,
                                   Names read_only,
                                   std::string_view read_only_msg) {
  if (!body.is_object()) return validation_error("body", "request body must be a JSON object");
  for (const auto& kv : body.get_object()) {
    std::string_view k = kv.key();
    if (contains(allowed, k)) continue;
    if (contains(read_only, k)) return validation_error(std::string(k), std::string(k) + std::string(read_only_msg));
    std::string unknown = "\"" + echo(k) + "\"";
    for (const auto& other : body.get_object()) {
      std::string_view o = other.key();
      if (o == k || contains(allowed, o) || contains(read_only, o)) continue;
      if (&other < &kv) continue;
      unknown += ", \"" + echo(o) + "\"";
    }
    bool many = unknown.find(", ") != std::string::npos;
    return validation_error(echo(k), std::string(many ? "unknown fields " : "unknown field ") +
                                         unknown + "; allowed: " + join(allowed));
  }
  return std::nullopt;
}

// Present and not null.
const json::value* given(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return nullptr;
  return v;
}

bool is_explicit_null(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_null();
}

using Error = std::optional<ApiError>;

Error read_text(const json::value& v, std::string_view field, std::size_t max, bool non_empty,
                std::string& out) {
  if (!v.is_string())
    return validation_error(std::string(field), std::string(field) + " must be a string");
  std::string_view s = v.get_string();
  if (non_empty && blank(s))
    return validation_error(std::string(field), std::string(field) + " must not be empty");
  if (char_count(s) > max)
    return validation_error(std::string(field), std::string(field) + " must be at most " +
                                                    std::to_string(max) + " characters");
  out = std::string(s);
  return std::nullopt;
}

Error read_positive_id(const json::value& v, std::string_view field, std::int64_t& out) {
  // Only JSON integers: 1.0 or "1" are refused, as in the Telemetry API.
  if (!v.is_int64() || v.get_int64() <= 0)
    return validation_error(std::string(field), std::string(field) + " must be a positive integer");
  out = v.get_int64();
  return std::nullopt;
}

// "<field> must be one of: info, warning, critical": the names of E (model/enums.hpp), or of
// `allowed` when the field takes only some of E's values.
template <class E>
ApiError not_one_of(std::string_view field, std::span<const E> allowed = {}) {
  std::string names;
  if (allowed.empty()) {
    names = model::names_list<E>();
  } else {
    for (E a : allowed) {
      if (!names.empty()) names += ", ";
      names += model::to_string(a);
    }
  }
  return validation_error(std::string(field), std::string(field) + " must be one of: " + names);
}

// A name of E (of `allowed`, when given).
template <class E>
Error read_one_of(const json::value& v, std::string_view field, E& out,
                  std::span<const E> allowed = {}) {
  std::optional<E> e;
  if (v.is_string()) e = model::from_string<E>(v.get_string());
  if (!e || (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *e) == allowed.end()))
    return not_one_of(field, allowed);
  out = *e;
  return std::nullopt;
}

Error read_object(const json::value& v, std::string_view field, json::object& out) {
  if (!v.is_object())
    return validation_error(std::string(field), std::string(field) + " must be an object");
  out = v.get_object();
  return std::nullopt;
}

bool valid_metric(std::string_view s) {
  if (s.empty() || s.size() > kMaxMetric) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<double> finite_number(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64: return static_cast<double>(v.get_int64());
    case json::kind::uint64: return static_cast<double>(v.get_uint64());
    case json::kind::double_:
      if (std::isfinite(v.get_double())) return v.get_double();
      return std::nullopt;
    default: return std::nullopt;
  }
}

// "0", "0s", "000ms": zero written as a duration string (parse_duration refuses zero).
bool zero_duration_string(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] == '0') ++i;
  if (i == 0) return false;
  std::string_view unit = s.substr(i);
  return unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "h";
}

Error read_duration(const json::value& v, std::string_view field, std::chrono::milliseconds& out) {
  const std::string f(field);
  const std::string bad = f + " must be a non-negative number of seconds or a duration string "
                              "such as \"30s\", \"5m\" or \"500ms\"";
  if (v.is_string()) {
    std::string_view s = v.get_string();
    if (zero_duration_string(s)) {
      out = std::chrono::milliseconds{0};
      return std::nullopt;
    }
    auto d = util::parse_duration(s);
    if (!d) return validation_error(f, bad);
    if (seconds(*d) > kMaxDurationSeconds)
      return validation_error(f, f + " must be at most 365 days");
    out = *d;
    return std::nullopt;
  }
  auto n = finite_number(v);
  if (!n || *n < 0) return validation_error(f, bad);
  if (*n > kMaxDurationSeconds) return validation_error(f, f + " must be at most 365 days");
  out = std::chrono::milliseconds{std::llround(*n * 1000.0)};
  return std::nullopt;
}

// ---- devices ----

constexpr std::string_view kDeviceReadOnly[] = {"created_at", "updated_at", "last_seen"};
constexpr std::string_view kStatusReportFields[] = {"status", "reason", "metadata"};
constexpr std::string_view kNotesFields[] = {"notes"};
const Names kNone{};
constexpr std::string_view kDeviceFields[] = {
    "id",    "name",             "device_type", "location", "manufacturer",
    "model", "firmware_version", "metadata",    "status"};
constexpr std::string_view kDevicePatchFields[] = {
    "name", "device_type", "location", "manufacturer", "model", "firmware_version", "metadata"};

// Fields shared by create and update. `patch`: null clears the clearable fields.
Error read_device_fields(const json::object& o, bool patch, Device& d) {
  if (patch && is_explicit_null(o, "name"))
    return validation_error("name", "name must be a non-empty string");
  if (const json::value* v = given(o, "name"))
    if (auto e = read_text(*v, "name", kMaxName, true, d.name)) return e;
  if (patch && is_explicit_null(o, "device_type"))
    return not_one_of<model::DeviceType>("device_type");
  if (const json::value* v = given(o, "device_type"))
    if (auto e = read_one_of(*v, "device_type", d.device_type)) return e;
  struct TextField {
    std::string_view key;
    std::string Device::*member;
  };
  for (auto [key, member] : {TextField{"location", &Device::location},
                             TextField{"manufacturer", &Device::manufacturer},
                             TextField{"model", &Device::model},
                             TextField{"firmware_version", &Device::firmware_version}}) {
    if (patch && is_explicit_null(o, key)) (d.*member).clear();
    if (const json::value* v = given(o, key))
      if (auto e = read_text(*v, key, kMaxText, false, d.*member)) return e;
  }
  if (patch && is_explicit_null(o, "metadata")) d.metadata.clear();
  if (const json::value* v = given(o, "metadata"))
    if (auto e = read_object(*v, "metadata", d.metadata)) return e;
  return std::nullopt;
}

// ---- rules ----

constexpr std::string_view kRuleFields[] = {
    "name",     "device_id", "device_type", "metric",   "condition", "threshold",
    "severity", "alert_type", "duration",   "cooldown", "enabled"};
constexpr std::string_view kRuleReadOnly[] = {"id", "created_at",
                                                                   "updated_at"};
// The alert types a rule may raise (anomaly and manual alerts come from elsewhere).
constexpr AlertType kRuleAlertTypes[] = {AlertType::threshold, AlertType::device,
                                         AlertType::system};

Error read_rule_fields(const json::object& o, bool patch, AlertRule& r) {
  auto null_refused = [&](std::string_view key, std::string msg) -> Error {
    if (patch && is_explicit_null(o, key)) return validation_error(std::string(key), std::move(msg));
    return std::nullopt;
  };

  if (auto e = null_refused("name", "name must be a non-empty string")) return e;
  if (const json::value* v = given(o, "name"))
    if (auto e = read_text(*v, "name", kMaxName, true, r.name)) return e;

  if (patch && is_explicit_null(o, "device_id")) r.device_id.reset();
  if (const json::value* v = given(o, "device_id")) {
    std::int64_t id = 0;
    if (auto e = read_positive_id(*v, "device_id", id)) return e;
    r.device_id = id;
  }
  if (patch && is_explicit_null(o, "device_type")) r.device_type.reset();
  if (const json::value* v = given(o, "device_type")) {
    model::DeviceType t{};
    if (auto e = read_one_of(*v, "device_type", t)) return e;
    r.device_type = t;
  }
  if (r.device_id && r.device_type) {
    // Name the field that made the conflict: device_type if the body sets it, else device_id.
    std::string field = given(o, "device_type") ? "device_type" : "device_id";
    return validation_error(field,
                            field + " cannot be combined with " +
                                (field == "device_type" ? "device_id" : "device_type") +
                                ": a rule applies to one device, one device type, or all devices");
  }

  const std::string metric_msg = "metric must be a string matching [a-z0-9_.-]{1,64}";
  if (!patch && !given(o, "metric")) return validation_error("metric", "metric is required");
  if (auto e = null_refused("metric", metric_msg)) return e;
  if (const json::value* v = given(o, "metric")) {
    if (!v->is_string() || !valid_metric(v->get_string()))
      return validation_error("metric", metric_msg);
    r.metric = std::string(v->get_string());
  }

  const std::string conditions = model::names_list<model::Condition>();
  if (!patch && !given(o, "condition"))
    return validation_error("condition", "condition is required (" + conditions + ")");
  if (auto e = null_refused("condition", "condition must be one of: " + conditions)) return e;
  if (const json::value* v = given(o, "condition"))
    if (auto e = read_one_of(*v, "condition", r.condition)) return e;

  if (!patch && !given(o, "threshold"))
    return validation_error("threshold", "threshold is required");
  if (auto e = null_refused("threshold", "threshold must be a finite number")) return e;
  if (const json::value* v = given(o, "threshold")) {
    auto n = finite_number(*v);
    if (!n) return validation_error("threshold", "threshold must be a finite number");
    r.threshold = *n;
  }

  if (patch && is_explicit_null(o, "severity")) return not_one_of<model::Severity>("severity");
  if (const json::value* v = given(o, "severity"))
    if (auto e = read_one_of(*v, "severity", r.severity)) return e;

  const std::span<const AlertType> rule_types(kRuleAlertTypes);
  if (patch && is_explicit_null(o, "alert_type")) return not_one_of("alert_type", rule_types);
  if (const json::value* v = given(o, "alert_type"))
    if (auto e = read_one_of(*v, "alert_type", r.alert_type, rule_types)) return e;

  if (is_explicit_null(o, "duration")) r.duration = std::chrono::milliseconds{0};
  if (const json::value* v = given(o, "duration"))
    if (auto e = read_duration(*v, "duration", r.duration)) return e;
  if (is_explicit_null(o, "cooldown")) r.cooldown = std::chrono::milliseconds{0};
  if (const json::value* v = given(o, "cooldown"))
    if (auto e = read_duration(*v, "cooldown", r.cooldown)) return e;

  if (auto e = null_refused("enabled", "enabled must be true or false")) return e;
  if (const json::value* v = given(o, "enabled")) {
    if (!v->is_bool()) return validation_error("enabled", "enabled must be true or false");
    r.enabled = v->get_bool();
  }
  return std::nullopt;
}

}  // namespace

// ---- devices ----

json::object to_json(const Device& d) {
  json::object o;
  o["id"] = d.id;
  o["name"] = d.name;
  o["device_type"] = model::to_string(d.device_type);
  o["location"] = d.location;
  o["manufacturer"] = d.manufacturer;
  o["model"] = d.model;
  o["firmware_version"] = d.firmware_version;
  o["metadata"] = d.metadata;
  o["status"] = model::to_string(d.status);
  o["last_seen"] = time_or_null(d.last_seen);
  o["created_at"] = util::iso8601(d.created_at);
  o["updated_at"] = util::iso8601(d.updated_at);
  return o;
}

ApiResult<Device> device_from_json(const json::value& body) {
  if (auto e = check_keys(body, kDeviceFields, kDeviceReadOnly,
                          " is read-only: it is set by the server"))
    return *e;
  const json::object& o = body.get_object();
  Device d;
  if (const json::value* v = given(o, "id"))
    if (auto e = read_positive_id(*v, "id", d.id)) return *e;
  if (!given(o, "name")) return validation_error("name", "name is required");
  if (auto e = read_device_fields(o, false, d)) return *e;
  if (const json::value* v = given(o, "status"))
    if (auto e = read_one_of(*v, "status", d.status)) return *e;
  return d;
}

ApiResult<void> apply_device_patch(Device& d, const json::value& body) {
  if (!body.is_object()) return validation_error("body", "request body must be a JSON object");
  const json::object& o = body.get_object();
  // Fields that exist but cannot be changed here get their own message.
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    if (k == "status")
      return validation_error("status",
                              "status cannot be changed here: use PUT /api/v1/devices/{id}/status");
    if (k == "id" || k == "created_at" || k == "updated_at" || k == "last_seen")
      return validation_error(std::string(k), std::string(k) + " cannot be changed");
  }
  if (auto e = check_keys(body, kDevicePatchFields, kNone, "")) return *e;
  if (o.empty())
    return validation_error("body", "body must contain at least one field to update (" +
                                        join(kDevicePatchFields) + ")");
  Device copy = d;
  if (auto e = read_device_fields(o, true, copy)) return *e;
  d = std::move(copy);
  return {};
}

ApiResult<model::StatusReport> status_report_from_json(const json::value& body) {
  if (auto e = check_keys(body, kStatusReportFields, kNone, "")) return *e;
  const json::object& o = body.get_object();
  model::StatusReport r;
  const json::value* s = given(o, "status");
  if (!s)
    return validation_error(
        "status", "status is required (" + model::names_list<model::DeviceStatus>() + ")");
  if (auto e = read_one_of(*s, "status", r.status)) return *e;
  if (const json::value* v = given(o, "reason"))
    if (auto e = read_text(*v, "reason", kMaxReason, false, r.reason)) return *e;
  if (const json::value* v = given(o, "metadata"))
    if (auto e = read_object(*v, "metadata", r.metadata)) return *e;
  return r;
}

// ---- alert rules ----

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

ApiResult<AlertRule> rule_from_json(const json::value& body) {
  if (auto e = check_keys(body, kRuleFields, kRuleReadOnly, " is read-only: it is set by the server"))
    return *e;
  const json::object& o = body.get_object();
  if (!given(o, "name")) return validation_error("name", "name is required");
  AlertRule r;
  if (auto e = read_rule_fields(o, false, r)) return *e;
  return r;
}

ApiResult<void> apply_rule_patch(AlertRule& r, const json::value& body) {
  if (auto e = check_keys(body, kRuleFields, kRuleReadOnly, " cannot be changed")) return *e;
  const json::object& o = body.get_object();
  if (o.empty())
    return validation_error("body", "body must contain at least one field to update (" +
                                        join(kRuleFields) + ")");
  AlertRule copy = r;
  if (auto e = read_rule_fields(o, true, copy)) return *e;
  r = std::move(copy);
  return {};
}

// ---- alerts ----

json::object to_json(const Alert& a) {
  json::object o;
  o["alert_id"] = a.id;
  o["device_id"] = a.device_id;
  o["severity"] = model::to_string(a.severity);
  o["alert_type"] = model::to_string(a.alert_type);
  o["title"] = a.title;
  o["message"] = a.message;
  o["status"] = model::to_string(a.status);
  o["timestamp"] = util::iso8601(a.timestamp);
  o["metadata"] = a.metadata;
  o["rule_id"] = a.rule_id ? json::value(*a.rule_id) : json::value(nullptr);
  o["acknowledged_at"] = time_or_null(a.acknowledged_at);
  o["acknowledged_by"] = text_or_null(a.acknowledged_by);
  o["resolved_at"] = time_or_null(a.resolved_at);
  o["resolved_by"] = text_or_null(a.resolved_by);
  o["notes"] = text_or_null(a.notes);
  return o;
}

ApiResult<std::string> notes_from_json(const json::value& body) {
  if (body.is_null()) return std::string();  // empty body
  if (auto e = check_keys(body, kNotesFields, kNone, "")) return *e;
  const json::object& o = body.get_object();
  std::string notes;
  if (const json::value* v = given(o, "notes"))
    if (auto e = read_text(*v, "notes", kMaxNotes, false, notes)) return *e;
  return notes;
}

void throw_exception_from_error(const ApiError& e, const boost::source_location&) {
  throw std::runtime_error(e.code + ": " + e.message);
}

}  // namespace valtronics::engine
