// Server -> client frames: replies (auth_response, subscribed, unsubscribed, pong, error,
// token_expiring) and the four update messages. Every frame is a boost::json::object serialized
// by Boost.JSON, so escaping is never done by hand; keys are inserted in the order the spec shows
// them so frames read like its examples.
#include "protocol/serialize.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <type_traits>

namespace valtronics::protocol {

namespace {

namespace json = boost::json;

// JSON has no spelling for NaN or infinity (Boost.JSON would write `NaN`/`Infinity`, which
// clients reject); such a value is sent as null rather than breaking the whole frame.
json::value number(double d) {
  if (std::isfinite(d)) return d;
  return nullptr;
}

// Client-supplied values (a ping's timestamp) may hold infinities: 1e400 parses as one.
json::value sanitized(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: return number(v.get_double());
    case json::kind::array: {
      json::array out;
      out.reserve(v.get_array().size());
      for (const auto& e : v.get_array()) out.push_back(sanitized(e));
      return out;
    }
    case json::kind::object: {
      json::object out;
      out.reserve(v.get_object().size());
      for (const auto& kv : v.get_object()) out.emplace(kv.key(), sanitized(kv.value()));
      return out;
    }
    default: return v;
  }
}

json::string_view sv(std::string_view s) { return json::string_view(s.data(), s.size()); }

std::string finish(json::object& o, const OptId& id) {
  if (id) o["id"] = sanitized(*id);
  return json::serialize(o);
}

json::array string_list(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(sv(s));
  return a;
}

bool wanted(std::span<const std::string> only, const std::string& name) {
  return only.empty() || std::binary_search(only.begin(), only.end(), name);
}

std::string serialize_alert(const hub::AlertEvent& e) {
  json::object o;
  o["type"] = "alert";
  o["channel"] = sv(to_string(Channel::alerts));
  o["alert_id"] = e.alert_id;
  o["device_id"] = e.device_id;
  o["severity"] = sv(e.severity);
  o["alert_type"] = sv(e.alert_type);
  o["title"] = sv(e.title);
  o["message"] = sv(e.message);
  o["status"] = sv(e.status);
  o["timestamp"] = util::iso8601(e.timestamp);
  o["metadata"] = sanitized(e.metadata);
  return json::serialize(o);
}

std::string serialize_device_status(const hub::DeviceStatusEvent& e) {
  json::object o;
  o["type"] = "device_status_update";
  o["channel"] = sv(to_string(Channel::devices));
  o["device_id"] = e.device_id;
  o["old_status"] = sv(e.old_status);
  o["new_status"] = sv(e.new_status);
  o["timestamp"] = util::iso8601(e.timestamp);
  o["reason"] = sv(e.reason);
  json::object meta;
  if (e.last_seen) meta["last_seen"] = util::iso8601(*e.last_seen);
  o["metadata"] = std::move(meta);
  return json::serialize(o);
}

}  // namespace

std::string auth_success(const OptId& id, std::string_view sub, std::string_view role,
                         std::optional<util::TimePoint> expires_at) {
  json::object o;
  o["type"] = "auth_response";
  o["success"] = true;
  o["message"] = "Authentication successful";
  o["user"] = sv(sub);
  o["role"] = sv(role);
  if (expires_at) o["expires_at"] = util::iso8601(*expires_at);
  return finish(o, id);
}

std::string auth_failure(const OptId& id, ErrorCode code, std::string_view message) {
  json::object o;
  o["type"] = "auth_response";
  o["success"] = false;
  o["error"] = sv(to_string(code));
  o["message"] = sv(message);
  return finish(o, id);
}

std::string subscribed(const OptId& id, Channel channel, const Filters& f) {
  json::object filters;
  // Lists come out as lists even when the client sent one value: the reply shows the normalized
  // form, so a client can compare it with what it asked for.
  if (channel != Channel::system && !f.device_ids.empty()) {
    json::array ids;
    ids.reserve(f.device_ids.size());
    for (auto d : f.device_ids) ids.emplace_back(d);
    filters["device_id"] = std::move(ids);
  }
  if ((channel == Channel::telemetry || channel == Channel::system) && !f.metrics.empty()) {
    filters["metrics"] = string_list(f.metrics);
  }
  if (channel == Channel::alerts) {
    if (!f.severities.empty()) filters["severity"] = string_list(f.severities);
    if (!f.alert_types.empty()) filters["alert_type"] = string_list(f.alert_types);
  }
  if (channel == Channel::devices && !f.status_types.empty()) {
    filters["status_types"] = string_list(f.status_types);
  }
  // Frequency is always shown for the two channels that have one: the effective value (default
  // included) is what the client needs to know.
  if (channel == Channel::telemetry) {
    filters["frequency"] =
        f.frequency.count() == 0 ? std::string("real-time") : util::format_duration(f.frequency);
  } else if (channel == Channel::system) {
    filters["frequency"] = util::format_duration(f.frequency);
  }

  json::object o;
  o["type"] = "subscribed";
  o["channel"] = sv(to_string(channel));
  o["filters"] = std::move(filters);
  return finish(o, id);
}

std::string unsubscribed(const OptId& id, Channel channel, std::optional<std::int64_t> device_id,
                         std::size_t removed) {
  json::object o;
  o["type"] = "unsubscribed";
  o["channel"] = sv(to_string(channel));
  if (device_id) o["device_id"] = *device_id;
  o["removed"] = static_cast<std::uint64_t>(removed);
  return finish(o, id);
}

std::string pong(const OptId& id, const std::optional<boost::json::value>& client_timestamp,
                 util::TimePoint now) {
  json::object o;
  o["type"] = "pong";
  o["timestamp"] = client_timestamp ? sanitized(*client_timestamp) : json::value(nullptr);
  o["server_time"] = util::iso8601(now);
  return finish(o, id);
}

std::string error(const OptId& id, ErrorCode code, std::string_view message) {
  json::object o;
  o["type"] = "error";
  o["error"] = sv(to_string(code));
  o["message"] = sv(message);
  return finish(o, id);
}

std::string token_expiring(util::TimePoint expires_at) {
  json::object o;
  o["type"] = "token_expiring";
  o["expires_at"] = util::iso8601(expires_at);
  return json::serialize(o);
}

std::string serialize_telemetry(std::int64_t device_id,
                                std::span<const hub::MetricReading> readings,
                                std::span<const std::string> only_metrics) {
  json::object telemetry;
  for (const auto& r : readings) {
    if (!wanted(only_metrics, r.name)) continue;
    json::object m;
    m["value"] = number(r.value);
    if (!r.unit.empty()) m["unit"] = sv(r.unit);
    m["timestamp"] = util::iso8601(r.timestamp);
    // A metric repeated within one event: the later reading is the latest value.
    telemetry[sv(r.name)] = std::move(m);
  }
  if (telemetry.empty()) return {};

  json::object o;
  o["type"] = "telemetry_update";
  o["channel"] = sv(to_string(Channel::telemetry));
  o["device_id"] = device_id;
  o["telemetry"] = std::move(telemetry);
  return json::serialize(o);
}

std::string serialize_system(const hub::SystemEvent& event,
                             std::span<const std::string> only_metrics) {
  json::object metrics;
  for (const auto& [name, value] : event.metrics) {
    if (wanted(only_metrics, name)) metrics[sv(name)] = number(value);
  }
  json::object o;
  o["type"] = "system_status_update";
  o["channel"] = sv(to_string(Channel::system));
  o["metrics"] = std::move(metrics);
  o["timestamp"] = util::iso8601(event.timestamp);
  return json::serialize(o);
}

std::string serialize_event(const hub::Event& event) {
  return std::visit(
      [](const auto& b) -> std::string {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, hub::TelemetryEvent>) {
          return serialize_telemetry(b.device_id, b.readings);
        } else if constexpr (std::is_same_v<T, hub::AlertEvent>) {
          return serialize_alert(b);
        } else if constexpr (std::is_same_v<T, hub::DeviceStatusEvent>) {
          return serialize_device_status(b);
        } else {
          return serialize_system(b, {});
        }
      },
      event.body);
}

}  // namespace valtronics::protocol
