// Devices: JSON form and request bodies. Order of checks: body shape, unknown keys (in body
// order), read-only keys, then each field in the model's order.
#include "api/device_json.hpp"

#include <boost/json/string.hpp>
#include <string_view>

#include "api/body_fields.hpp"
#include "config/limits.hpp"
#include "util/time.hpp"

namespace valtronics::api {

namespace json = boost::json;
using model::Device;
using body::Error;
using body::given;
using body::is_explicit_null;

namespace {

// Bounds: config/limits.hpp, "stored text".
constexpr std::size_t kMaxName = limits::kMaxNameChars;
constexpr std::size_t kMaxText = limits::kMaxDeviceTextChars;
constexpr std::size_t kMaxReason = limits::kMaxReasonChars;

constexpr std::string_view kDeviceFields[] = {
    "id",    "name",             "device_type", "location", "manufacturer",
    "model", "firmware_version", "metadata",    "status"};
constexpr std::string_view kDeviceReadOnly[] = {"created_at", "updated_at", "last_seen"};
constexpr std::string_view kDevicePatchFields[] = {
    "name", "device_type", "location", "manufacturer", "model", "firmware_version", "metadata"};
constexpr std::string_view kStatusReportFields[] = {"status", "reason", "metadata"};

// Fields shared by create and update. `patch`: null clears the clearable fields.
Error read_device_fields(const json::object& o, bool patch, Device& d) {
  if (patch && is_explicit_null(o, "name"))
    return model::invalid("name", "name must be a non-empty string");
  if (const json::value* v = given(o, "name"))
    if (auto e = body::read_text(*v, "name", kMaxName, true, d.name)) return e;
  if (patch && is_explicit_null(o, "device_type"))
    return body::not_one_of<model::DeviceType>("device_type");
  if (const json::value* v = given(o, "device_type"))
    if (auto e = body::read_one_of(*v, "device_type", d.device_type)) return e;
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
      if (auto e = body::read_text(*v, key, kMaxText, false, d.*member)) return e;
  }
  if (patch && is_explicit_null(o, "metadata")) d.metadata.clear();
  if (const json::value* v = given(o, "metadata"))
    if (auto e = body::read_object(*v, "metadata", d.metadata, limits::kMaxMetadataBytes)) return e;
  return std::nullopt;
}

}  // namespace

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
  o["last_seen"] = d.last_seen ? json::value(util::iso8601(*d.last_seen)) : json::value(nullptr);
  o["created_at"] = util::iso8601(d.created_at);
  o["updated_at"] = util::iso8601(d.updated_at);
  return o;
}

model::Result<Device> device_from_json(const json::value& b) {
  if (auto e = body::check_keys(b, kDeviceFields, kDeviceReadOnly,
                                " is read-only: it is set by the server"))
    return *e;
  const json::object& o = b.get_object();
  Device d;
  if (const json::value* v = given(o, "id"))
    if (auto e = body::read_positive_id(*v, "id", d.id)) return *e;
  if (!given(o, "name")) return model::invalid("name", "name is required");
  if (auto e = read_device_fields(o, false, d)) return *e;
  if (const json::value* v = given(o, "status"))
    if (auto e = body::read_one_of(*v, "status", d.status)) return *e;
  return d;
}

model::Result<void> apply_device_patch(Device& d, const json::value& b) {
  if (!b.is_object()) return model::invalid("body", "request body must be a JSON object");
  const json::object& o = b.get_object();
  // Fields that exist but cannot be changed here get their own message.
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    if (k == "status")
      return model::invalid("status",
                            "status cannot be changed here: use PUT /api/v1/devices/{id}/status");
    if (k == "id" || k == "created_at" || k == "updated_at" || k == "last_seen")
      return model::invalid(std::string(k), std::string(k) + " cannot be changed");
  }
  if (auto e = body::check_keys(b, kDevicePatchFields, {}, "")) return *e;
  if (o.empty())
    return model::invalid("body", "body must contain at least one field to update (" +
                                      body::join(kDevicePatchFields) + ")");
  Device copy = d;
  if (auto e = read_device_fields(o, true, copy)) return *e;
  d = std::move(copy);
  return {};
}

model::Result<model::StatusReport> status_report_from_json(const json::value& b) {
  if (auto e = body::check_keys(b, kStatusReportFields, {}, "")) return *e;
  const json::object& o = b.get_object();
  model::StatusReport r;
  const json::value* s = given(o, "status");
  if (!s)
    return model::invalid(
        "status", "status is required (" + model::names_list<model::DeviceStatus>() + ")");
  if (auto e = body::read_one_of(*s, "status", r.status)) return *e;
  if (const json::value* v = given(o, "reason"))
    if (auto e = body::read_text(*v, "reason", kMaxReason, false, r.reason)) return *e;
  if (const json::value* v = given(o, "metadata"))
    if (auto e = body::read_object(*v, "metadata", r.metadata, limits::kMaxMetadataBytes)) return *e;
  return r;
}

json::object latest_telemetry_json(std::int64_t device_id,
                                   const std::vector<model::MetricValue>& values) {
  json::object telemetry;
  for (const auto& v : values) {
    json::object m{{"value", v.value}};
    if (!v.unit.empty()) m["unit"] = v.unit;
    m["timestamp"] = util::iso8601(v.timestamp);
    telemetry[v.metric] = std::move(m);
  }
  return json::object{{"device_id", device_id}, {"telemetry", std::move(telemetry)}};
}

}  // namespace valtronics::api
