// Line formatting of server messages; see format.hpp. Units follow the value without a space
// (`21.5°C`, `1013.2hPa`) so that every reading stays one `name=value` token for grep and awk.
#include "client/format.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>
#include <ctime>

namespace valtronics::client {

namespace json = boost::json;

namespace {

std::string_view str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// "2026-01-01T12:00:01.234Z" -> "12:00:01.234"; anything else -> "".
std::string_view time_of(std::string_view ts) {
  auto t = ts.find('T');
  if (t == std::string_view::npos || ts.size() < t + 13) return {};
  return ts.substr(t + 1, 12);
}

std::string list_text(const json::value& v) {
  if (!v.is_array()) return value_text(v);
  std::string out;
  for (const auto& x : v.get_array()) out += (out.empty() ? "" : ",") + value_text(x);
  return out;
}

std::string telemetry(const json::object& m, std::string_view& when) {
  std::string out = "telemetry device " + value_text(m.contains("device_id") ? m.at("device_id") : json::value());
  auto* t = m.if_contains("telemetry");
  if (t && t->is_object()) {
    for (const auto& [name, reading] : t->get_object()) {
      out += ' ';
      out += name;
      out += '=';
      if (!reading.is_object()) {
        out += value_text(reading);
        continue;
      }
      const auto& r = reading.get_object();
      if (auto* v = r.if_contains("value")) out += value_text(*v);
      out += str(r, "unit");
      if (when.empty()) when = time_of(str(r, "timestamp"));
    }
  }
  if (auto* c = m.if_contains("conflated")) out += " (conflated " + value_text(*c) + ")";
  // Extensions: a crossing's direction per metric, a window's aggregate and counts.
  if (auto* c = m.if_contains("crossed"); c && c->is_object())
    for (const auto& [name, dir] : c->get_object())
      out += " (" + std::string(name) + " crossed " + value_text(dir) + ")";
  if (auto* a = m.if_contains("aggregate")) {
    out += " (" + value_text(*a) + " over " + std::string(str(m, "window"));
    if (auto* n = m.if_contains("count"); n && n->is_object())
      for (const auto& [name, count] : n->get_object())
        out += " " + std::string(name) + ":" + value_text(count);
    out += ")";
  }
  return out;
}

std::string filters_text(const json::object& f) {
  std::string out;
  for (const auto& [k, v] : f) out += " " + std::string(k) + "=" + list_text(v);
  return out;
}

}  // namespace

std::string value_text(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return std::string(v.get_string());
    case json::kind::int64: return std::to_string(v.get_int64());
    case json::kind::uint64: return std::to_string(v.get_uint64());
    case json::kind::double_: {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_double());
      return std::string(buf, r.ptr);
    }
    case json::kind::bool_: return v.get_bool() ? "true" : "false";
    case json::kind::null: return "null";
    default: return json::serialize(v);
  }
}

std::string clock_time(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string format_line(const json::object& m, std::string_view fallback_time) {
  std::string_view type = str(m, "type");
  std::string_view when = time_of(str(m, "timestamp"));
  auto field = [&](std::string_view k) {
    auto* v = m.if_contains(k);
    return v ? value_text(*v) : std::string();
  };
  std::string body;
  if (type == "telemetry_update") {
    body = telemetry(m, when);
  } else if (type == "alert") {
    body = "alert #" + field("alert_id") + " " + field("severity") + " device " +
           field("device_id") + " " + field("title") + ": " + field("message") + " [" +
           field("status") + "]";
  } else if (type == "device_status_update") {
    body = "device " + field("device_id") + " " + field("old_status") + " -> " +
           field("new_status");
    if (auto r = str(m, "reason"); !r.empty()) body += " (" + std::string(r) + ")";
  } else if (type == "system_status_update") {
    body = "system";
    if (auto* ms = m.if_contains("metrics"); ms && ms->is_object()) {
      for (const auto& [k, v] : ms->get_object()) {
        body += " " + std::string(k) + "=" + value_text(v);
        if (k == "cpu_usage" || k == "memory_usage" || k == "disk_usage") body += "%";
      }
    }
  } else if (type == "subscribed") {
    body = "subscribed " + field("channel");
    if (auto* f = m.if_contains("filters"); f && f->is_object()) body += filters_text(f->get_object());
    if (m.contains("recovered")) body += " recovered=" + field("recovered");
    if (auto* f = m.if_contains("forbidden")) body += " forbidden=" + list_text(*f);
  } else if (type == "telemetry_stale") {
    body = "stale device " + field("device_id");
    if (m.contains("metric")) body += " " + field("metric");
    body += ": nothing for " + field("stale_after") + ", last seen " + field("last_seen");
  } else if (type == "unsubscribed") {
    body = "unsubscribed " + field("channel");
    if (m.contains("device_id")) body += " device " + field("device_id");
    body += " removed=" + field("removed");
  } else if (type == "auth_response") {
    body = m.contains("success") && m.at("success") == true
               ? "authenticated as " + field("user") + " (" + field("role") + "), token expires " +
                     field("expires_at")
               : "authentication failed: " + field("error") + ": " + field("message");
  } else if (type == "token_expiring") {
    body = "token expiring at " + field("expires_at");
  } else if (type == "pong") {
    body = "pong server_time=" + field("server_time");
  } else if (type == "error") {
    body = "error " + field("error") + ": " + field("message");
  } else {
    body = std::string(type.empty() ? "message" : type) + " " + json::serialize(m);
  }
  std::string out(when.empty() ? fallback_time : when);
  out += ' ';
  out += body;
  return out;
}

}  // namespace valtronics::client
