// Parsing of the --subscribe short form; see subscribe_spec.hpp. Only the shape is checked here
// (channel, key, value types); what the server checks besides (metric names, intervals, the
// token's rights) comes back as the subscribe's error reply.
#include "client/subscribe_spec.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <vector>

namespace valtronics::client {

namespace json = boost::json;

namespace {

// per_metric: a number, or METRIC:NUMBER,... ("*" for every other metric), as deadband takes it.
enum class Kind { ids, names, text, count, boolean, severities, per_metric };

struct KeyInfo {
  std::string_view key;
  Kind kind;
  std::array<std::string_view, 3> channels;  // where the key is allowed
};

constexpr std::array<KeyInfo, 16> kKeys = {{
    {"device_id", Kind::ids, {"telemetry", "alerts", "devices"}},
    {"metrics", Kind::names, {"telemetry", "system", ""}},
    {"frequency", Kind::text, {"telemetry", "system", ""}},
    {"severity", Kind::severities, {"alerts", "", ""}},
    {"alert_type", Kind::names, {"alerts", "", ""}},
    {"since_alert_id", Kind::count, {"alerts", "", ""}},
    {"status_types", Kind::names, {"devices", "", ""}},
    {"snapshot", Kind::boolean, {"telemetry", "devices", ""}},
    // Extensions (issue 15; docs/protocol.md, "Extensions of the spec").
    {"deadband", Kind::per_metric, {"telemetry", "", ""}},
    {"deadband_pct", Kind::per_metric, {"telemetry", "", ""}},
    {"max_silence", Kind::text, {"telemetry", "", ""}},
    {"crossing", Kind::per_metric, {"telemetry", "", ""}},
    {"direction", Kind::text, {"telemetry", "", ""}},
    {"stale_after", Kind::text, {"telemetry", "", ""}},
    {"aggregate", Kind::text, {"telemetry", "", ""}},
    {"ack", Kind::boolean, {"alerts", "", ""}},
}};

constexpr std::array<std::string_view, 4> kChannels = {"telemetry", "alerts", "devices", "system"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto at = s.find(sep);
    out.push_back(trim(s.substr(0, at)));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

bool to_int(std::string_view s, std::int64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

bool to_number(std::string_view s, double& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(v);
}

std::string allowed_keys(std::string_view channel) {
  std::string out;
  for (const auto& k : kKeys)
    for (auto c : k.channels)
      if (c == channel) out += (out.empty() ? "" : ", ") + std::string(k.key);
  return out;
}

// Converts the text of one value to JSON by the key's kind; returns an error text or "".
std::string convert(const KeyInfo& info, std::string_view raw, json::value& out) {
  const std::string key(info.key);
  if (raw.empty()) return key + ": empty value";
  switch (info.kind) {
    case Kind::text:
      out = json::string(raw);
      return "";
    case Kind::boolean:
      if (raw == "true" || raw == "false") {
        out = raw == "true";
        return "";
      }
      return key + ": '" + std::string(raw) + "' is not true or false";
    case Kind::count: {
      std::int64_t v = 0;
      if (!to_int(raw, v) || v < 0) return key + ": '" + std::string(raw) + "' is not an integer >= 0";
      out = v;
      return "";
    }
    case Kind::per_metric: {
      double v = 0;
      if (raw.find(':') == std::string_view::npos) {
        if (!to_number(raw, v)) return key + ": '" + std::string(raw) + "' is not a number";
        out = v;
        return "";
      }
      json::object by_metric;
      for (auto item : split(raw, ',')) {
        auto colon = item.find(':');
        if (colon == std::string_view::npos || !to_number(trim(item.substr(colon + 1)), v))
          return key + ": '" + std::string(item) + "' is not METRIC:NUMBER";
        by_metric[trim(item.substr(0, colon))] = v;
      }
      out = std::move(by_metric);
      return "";
    }
    default:
      break;
  }
  json::array list;
  for (auto item : split(raw, ',')) {
    if (item.empty()) return key + ": empty item in '" + std::string(raw) + "'";
    if (info.kind == Kind::ids) {
      std::int64_t v = 0;
      if (!to_int(item, v) || v <= 0)
        return key + ": '" + std::string(item) + "' is not a positive device id";
      list.emplace_back(v);
    } else {
      if (info.kind == Kind::severities && item != "info" && item != "warning" && item != "critical")
        return key + ": '" + std::string(item) + "' is not info, warning or critical";
      list.emplace_back(json::string(item));
    }
  }
  out = std::move(list);
  return "";
}

}  // namespace

SpecResult parse_subscribe_spec(std::string_view text) {
  SpecResult r;
  text = trim(text);
  auto colon = text.find(':');
  std::string channel(trim(text.substr(0, colon)));
  bool known = false;
  for (auto c : kChannels) known = known || c == channel;
  if (!known) {
    r.error = channel.empty() ? "missing channel (expected telemetry, alerts, devices or system)"
                              : "unknown channel '" + channel +
                                    "' (expected telemetry, alerts, devices or system)";
    return r;
  }
  r.spec.channel = channel;
  if (colon == std::string_view::npos) return r;
  auto rest = trim(text.substr(colon + 1));
  if (rest.empty()) return r;  // "alerts:" is just the channel

  for (auto pair : split(rest, ';')) {
    if (pair.empty()) continue;  // tolerate a trailing ';'
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      r.error = "'" + std::string(pair) + "' is not KEY=VALUE";
      return r;
    }
    std::string key(trim(pair.substr(0, eq)));
    const KeyInfo* info = nullptr;
    for (const auto& k : kKeys)
      for (auto c : k.channels)
        if (k.key == key && c == channel) info = &k;
    if (info == nullptr) {
      r.error = "unknown filter '" + key + "' for channel " + channel + " (expected " +
                allowed_keys(channel) + ")";
      return r;
    }
    if (r.spec.filters.contains(key)) {
      r.error = key + ": given twice";
      return r;
    }
    json::value v;
    if (auto err = convert(*info, trim(pair.substr(eq + 1)), v); !err.empty()) {
      r.error = std::move(err);
      return r;
    }
    r.spec.filters[key] = std::move(v);
  }
  return r;
}

}  // namespace valtronics::client
