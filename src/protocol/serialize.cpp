// Server -> client frames: replies (auth_response, subscribed, unsubscribed, pong, error,
// token_expiring) and the four update messages. Replies are boost::json::objects written by
// protocol/json_writer (numbers as "25.34" / "1", not Boost.JSON 1.81's "2.534E1" / "1E0");
// updates, on the hot path, are appended piece by piece with the same writer. Strings are always
// escaped by the writer (Boost.JSON's escaping), never by hand; keys are in the order the spec
// shows them so frames read like its examples.
#include "protocol/serialize.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "protocol/json_writer.hpp"

namespace valtronics::protocol {

namespace {

namespace json = boost::json;
using model::Channel;

json::string_view sv(std::string_view s) { return json::string_view(s.data(), s.size()); }

// Non-finite numbers anywhere (a ping's timestamp may hold 1e400, which parses as infinity) are
// written as null by the writer: JSON has no spelling for them.
std::string finish(json::object& o, const OptId& id) {
  if (id) o["id"] = *id;
  std::string out;
  append_json(out, o);
  return out;
}

json::array string_list(const std::vector<std::string>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& s : v) a.emplace_back(sv(s));
  return a;
}

// An enum filter list by name. Filters keep enums sorted by value; replies have always listed
// them in name order (they were sorted strings before), e.g. ["critical","warning"].
template <class E>
json::array name_list(const std::vector<E>& v) {
  std::vector<std::string_view> names;
  names.reserve(v.size());
  for (E e : v) names.push_back(model::to_string(e));
  std::sort(names.begin(), names.end());
  json::array a;
  a.reserve(names.size());
  for (auto n : names) a.emplace_back(sv(n));
  return a;
}

bool wanted(std::span<const std::string> only, const std::string& name) {
  return only.empty() || std::binary_search(only.begin(), only.end(), name);
}

// Update frames: literal keys and punctuation are appended as-is; every variable string and
// number goes through the writer.
void append_timestamp(std::string& out, util::TimePoint t) {
  append_json_string(out, util::iso8601(t));
}

// json::object semantics for a repeated name, kept from when frames were built as objects: the
// name appears once, at its first position, with the value of its last occurrence. `name_of(i)`
// gives the name of element i; `emit(first, last)` writes one member. Only wanted names count.
template <class NameOf, class Emit>
void for_each_unique(std::size_t n, std::span<const std::string> only, NameOf name_of, Emit emit) {
  constexpr std::size_t kLinear = 16;
  if (n <= kLinear) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& name = name_of(i);
      if (!wanted(only, name)) continue;
      bool seen = false;
      for (std::size_t j = 0; j < i && !seen; ++j) seen = name_of(j) == name;
      if (seen) continue;
      std::size_t last = i;
      for (std::size_t j = i + 1; j < n; ++j) {
        if (name_of(j) == name) last = j;
      }
      emit(i, last);
    }
    return;
  }
  std::unordered_map<std::string_view, std::size_t> last_of;
  last_of.reserve(n);
  for (std::size_t i = 0; i < n; ++i) last_of[name_of(i)] = i;
  std::unordered_set<std::string_view> done;
  done.reserve(last_of.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& name = name_of(i);
    if (!wanted(only, name) || !done.insert(name).second) continue;
    emit(i, last_of[name]);
  }
}

std::string serialize_alert(const model::AlertEvent& e) {
  std::string out;
  out.reserve(256);
  out.append(R"({"type":"alert","channel":)");
  append_json_string(out, model::to_string(Channel::alerts));
  out.append(R"(,"alert_id":)");
  append_json_int(out, e.alert_id);
  out.append(R"(,"device_id":)");
  append_json_int(out, e.device_id);
  out.append(R"(,"severity":)");
  append_json_string(out, model::to_string(e.severity));
  out.append(R"(,"alert_type":)");
  append_json_string(out, model::to_string(e.alert_type));
  out.append(R"(,"title":)");
  append_json_string(out, e.title);
  out.append(R"(,"message":)");
  append_json_string(out, e.message);
  out.append(R"(,"status":)");
  append_json_string(out, model::to_string(e.status));
  out.append(R"(,"timestamp":)");
  append_timestamp(out, e.timestamp);
  out.append(R"(,"metadata":)");
  append_json(out, e.metadata);
  out.push_back('}');
  return out;
}

std::string serialize_device_status(const model::DeviceStatusEvent& e) {
  std::string out;
  out.reserve(256);
  out.append(R"({"type":"device_status_update","channel":)");
  append_json_string(out, model::to_string(Channel::devices));
  out.append(R"(,"device_id":)");
  append_json_int(out, e.device_id);
  out.append(R"(,"old_status":)");
  append_json_string(out, model::to_string(e.old_status));
  out.append(R"(,"new_status":)");
  append_json_string(out, model::to_string(e.new_status));
  out.append(R"(,"timestamp":)");
  append_timestamp(out, e.timestamp);
  out.append(R"(,"reason":)");
  append_json_string(out, e.reason);
  out.append(R"(,"metadata":{)");
  if (e.last_seen) {
    out.append(R"("last_seen":)");
    append_timestamp(out, *e.last_seen);
  }
  out.append("}}");
  return out;
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

namespace {

// A PerMetric filter as the client may give it: a number, an object of numbers, or (both set)
// the object with "*" for the number that applies to every other metric.
json::value per_metric(const PerMetric& p) {
  if (p.by_metric.empty()) return *p.all;
  json::object o;
  for (const auto& [m, v] : p.by_metric) o[sv(m)] = v;
  if (p.all) o["*"] = *p.all;
  return o;
}

}  // namespace

std::string_view to_string(Direction d) {
  switch (d) {
    case Direction::up: return "up";
    case Direction::down: return "down";
    case Direction::both: break;
  }
  return "both";
}

std::string_view to_string(Aggregate a) {
  switch (a) {
    case Aggregate::min: return "min";
    case Aggregate::max: return "max";
    case Aggregate::count: return "count";
    case Aggregate::avg: break;
  }
  return "avg";
}

namespace {

void extension_filters(const Filters& f, json::object& filters) {
  if (!f.deadband.empty()) filters["deadband"] = per_metric(f.deadband);
  if (!f.deadband_pct.empty()) filters["deadband_pct"] = per_metric(f.deadband_pct);
  if (f.max_silence) filters["max_silence"] = util::format_duration(*f.max_silence);
  if (!f.crossing.empty()) filters["crossing"] = per_metric(f.crossing);
  if (f.direction) filters["direction"] = sv(to_string(*f.direction));
  if (f.stale_after) filters["stale_after"] = util::format_duration(*f.stale_after);
  if (f.aggregate) filters["aggregate"] = sv(to_string(*f.aggregate));
}

// `base` (a telemetry_update) with `fields` (",\"key\":...") added before its closing brace.
std::string with_fields(std::string base, std::string_view fields) {
  base.pop_back();
  base.append(fields);
  base.push_back('}');
  return base;
}

}  // namespace

std::string subscribed(const OptId& id, Channel channel, const Filters& f,
                       std::optional<bool> recovered, std::optional<std::int64_t> last_alert_id,
                       std::span<const std::int64_t> forbidden) {
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
    if (!f.severities.empty()) filters["severity"] = name_list(f.severities);
    if (!f.alert_types.empty()) filters["alert_type"] = name_list(f.alert_types);
  }
  if (channel == Channel::devices && !f.status_types.empty()) {
    filters["status_types"] = name_list(f.status_types);
  }
  // Frequency is always shown for the two channels that have one: the effective value (default
  // included) is what the client needs to know.
  if (channel == Channel::telemetry) {
    filters["frequency"] =
        f.frequency.count() == 0 ? std::string("real-time") : util::format_duration(f.frequency);
  } else if (channel == Channel::system) {
    filters["frequency"] = util::format_duration(f.frequency);
  }

  if (f.since_alert_id) filters["since_alert_id"] = *f.since_alert_id;
  if (f.snapshot) filters["snapshot"] = *f.snapshot;
  if (channel == Channel::telemetry) extension_filters(f, filters);
  if (channel == Channel::alerts && f.ack) filters["ack"] = *f.ack;

  json::object o;
  o["type"] = "subscribed";
  o["channel"] = sv(model::to_string(channel));
  o["filters"] = std::move(filters);
  if (recovered) o["recovered"] = *recovered;
  if (last_alert_id) o["last_alert_id"] = *last_alert_id;
  if (!forbidden.empty()) {
    json::array ids;
    for (auto d : forbidden) ids.emplace_back(d);
    o["forbidden"] = std::move(ids);
  }
  return finish(o, id);
}

std::string unsubscribed(const OptId& id, Channel channel, std::optional<std::int64_t> device_id,
                         std::size_t removed) {
  json::object o;
  o["type"] = "unsubscribed";
  o["channel"] = sv(model::to_string(channel));
  if (device_id) o["device_id"] = *device_id;
  o["removed"] = static_cast<std::uint64_t>(removed);
  return finish(o, id);
}

std::string pong(const OptId& id, const std::optional<boost::json::value>& client_timestamp,
                 util::TimePoint now) {
  json::object o;
  o["type"] = "pong";
  o["timestamp"] = client_timestamp ? *client_timestamp : json::value(nullptr);
  o["server_time"] = util::iso8601(now);
  return finish(o, id);
}

std::string hello(const OptId& id, const std::vector<std::string>& features) {
  json::object o;
  o["type"] = "hello";
  json::array a;
  for (const auto& f : features) a.emplace_back(sv(f));
  o["features"] = std::move(a);
  return finish(o, id);
}

std::string error(const OptId& id, ErrorCode code, std::string_view message) {
  json::object o;
  o["type"] = "error";
  o["error"] = sv(to_string(code));
  o["message"] = sv(message);
  return finish(o, id);
}

std::string subscription_error(ErrorCode code, std::string_view message, Channel channel,
                               std::optional<std::int64_t> device_id) {
  json::object o;
  o["type"] = "error";
  o["error"] = sv(to_string(code));
  o["message"] = sv(message);
  o["channel"] = sv(model::to_string(channel));
  o["device_id"] = device_id ? json::value(*device_id) : json::value(nullptr);
  return finish(o, std::nullopt);
}

std::string token_expiring(util::TimePoint expires_at) {
  json::object o;
  o["type"] = "token_expiring";
  o["expires_at"] = util::iso8601(expires_at);
  return finish(o, std::nullopt);
}

std::string serialize_telemetry(std::int64_t device_id,
                                std::span<const model::MetricReading> readings,
                                std::span<const std::string> only_metrics) {
  std::string out;
  bool any = false;
  for_each_unique(
      readings.size(), only_metrics,
      [&](std::size_t i) -> const std::string& { return readings[i].name; },
      [&](std::size_t first, std::size_t last) {
        if (!any) {
          any = true;
          out.reserve(96 + 96 * readings.size());
          out.append(R"({"type":"telemetry_update","channel":)");
          append_json_string(out, model::to_string(Channel::telemetry));
          out.append(R"(,"device_id":)");
          append_json_int(out, device_id);
          out.append(R"(,"telemetry":{)");
        } else {
          out.push_back(',');
        }
        // A metric repeated within one event: the later reading is the latest value.
        const auto& r = readings[last];
        append_json_string(out, readings[first].name);
        out.append(R"(:{"value":)");
        append_json_double(out, r.value);
        if (!r.unit.empty()) {
          out.append(R"(,"unit":)");
          append_json_string(out, r.unit);
        }
        out.append(R"(,"timestamp":)");
        append_timestamp(out, r.timestamp);
        out.push_back('}');
      });
  if (!any) return {};
  out.append("}}");
  return out;
}

std::string serialize_telemetry_crossed(
    std::int64_t device_id, std::span<const model::MetricReading> readings,
    std::span<const std::pair<std::string, Direction>> crossed) {
  std::string fields = R"(,"crossed":{)";
  for (std::size_t i = 0; i < crossed.size(); ++i) {
    if (i) fields.push_back(',');
    append_json_string(fields, crossed[i].first);
    fields.push_back(':');
    append_json_string(fields, to_string(crossed[i].second));
  }
  fields.push_back('}');
  return with_fields(serialize_telemetry(device_id, readings), fields);
}

std::string serialize_telemetry_window(std::int64_t device_id,
                                       std::span<const model::MetricReading> readings,
                                       std::span<const std::int64_t> counts, Aggregate aggregate,
                                       std::chrono::milliseconds window) {
  std::string fields = R"(,"aggregate":)";
  append_json_string(fields, to_string(aggregate));
  fields.append(R"(,"window":)");
  append_json_string(fields, util::format_duration(window));
  fields.append(R"(,"count":{)");
  for (std::size_t i = 0; i < readings.size() && i < counts.size(); ++i) {
    if (i) fields.push_back(',');
    append_json_string(fields, readings[i].name);
    fields.push_back(':');
    append_json_int(fields, counts[i]);
  }
  fields.push_back('}');
  return with_fields(serialize_telemetry(device_id, readings), fields);
}

std::string telemetry_stale(std::int64_t device_id, std::string_view metric,
                            std::chrono::milliseconds after,
                            std::optional<util::TimePoint> last_seen, util::TimePoint now) {
  std::string out = R"({"type":"telemetry_stale","channel":"telemetry","device_id":)";
  append_json_int(out, device_id);
  if (!metric.empty()) {
    out.append(R"(,"metric":)");
    append_json_string(out, metric);
  }
  out.append(R"(,"stale_after":)");
  append_json_string(out, util::format_duration(after));
  out.append(R"(,"last_seen":)");
  if (last_seen) append_timestamp(out, *last_seen);
  else out.append("null");
  out.append(R"(,"timestamp":)");
  append_timestamp(out, now);
  out.push_back('}');
  return out;
}

std::string serialize_system(const model::SystemEvent& event,
                             std::span<const std::string> only_metrics) {
  std::string out;
  out.reserve(96 + 32 * event.metrics.size());
  out.append(R"({"type":"system_status_update","channel":)");
  append_json_string(out, model::to_string(Channel::system));
  out.append(R"(,"metrics":{)");
  bool first_member = true;
  for_each_unique(
      event.metrics.size(), only_metrics,
      [&](std::size_t i) -> const std::string& { return event.metrics[i].first; },
      [&](std::size_t first, std::size_t last) {
        if (!first_member) out.push_back(',');
        first_member = false;
        append_json_string(out, event.metrics[first].first);
        out.push_back(':');
        append_json_double(out, event.metrics[last].second);
      });
  out.append(R"(},"timestamp":)");
  append_timestamp(out, event.timestamp);
  out.push_back('}');
  return out;
}

std::string serialize_event(const model::EventBody& body) {
  return std::visit(
      [](const auto& b) -> std::string {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, model::TelemetryEvent>) {
          return serialize_telemetry(b.device_id, b.readings);
        } else if constexpr (std::is_same_v<T, model::AlertEvent>) {
          return serialize_alert(b);
        } else if constexpr (std::is_same_v<T, model::DeviceStatusEvent>) {
          return serialize_device_status(b);
        } else {
          return serialize_system(b, {});
        }
      },
      body);
}

}  // namespace valtronics::protocol
