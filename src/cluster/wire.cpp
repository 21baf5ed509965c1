// The cluster's JSON messages (wire.hpp). Short keys: every telemetry event crosses NATS once per
// interested node. Times are microseconds since the epoch, enums their numeric value.
#include "cluster/wire.hpp"

#include <boost/json.hpp>

#include <chrono>

namespace valtronics::cluster::wire {

namespace json = boost::json;

namespace {

std::int64_t micros(util::TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
util::TimePoint from_micros(std::int64_t us) {
  return util::TimePoint(std::chrono::duration_cast<util::TimePoint::duration>(
      std::chrono::microseconds(us)));
}

[[noreturn]] void bad(const std::string& what) { throw WireError("cluster message: " + what); }

const json::object& as_object(const json::value& v, const char* what) {
  if (!v.is_object()) bad(std::string(what) + " is not an object");
  return v.get_object();
}
const json::value& field(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) bad(std::string("no \"") + key + "\"");
  return it->value();
}
std::int64_t int_field(const json::object& o, const char* key) {
  const auto& v = field(o, key);
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64());
  bad(std::string("\"") + key + "\" is not an integer");
}
double number_field(const json::object& o, const char* key) {
  const auto& v = field(o, key);
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  bad(std::string("\"") + key + "\" is not a number");
}
std::string string_field(const json::object& o, const char* key) {
  const auto& v = field(o, key);
  if (!v.is_string()) bad(std::string("\"") + key + "\" is not a string");
  return std::string(v.get_string());
}
template <class E>
E enum_field(const json::object& o, const char* key, int count) {
  const auto n = int_field(o, key);
  if (n < 0 || n >= count) bad(std::string("\"") + key + "\" is out of range");
  return static_cast<E>(n);
}
const json::array& array_field(const json::object& o, const char* key) {
  const auto& v = field(o, key);
  if (!v.is_array()) bad(std::string("\"") + key + "\" is not an array");
  return v.get_array();
}
json::object object_or_empty(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_object()) return {};
  return it->value().get_object();
}

json::value parse(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) bad("not JSON: " + ec.message());
  return v;
}

json::object telemetry_json(const model::TelemetryEvent& t) {
  json::array readings;
  readings.reserve(t.readings.size());
  for (const auto& r : t.readings) {
    json::object o{{"n", r.name}, {"v", r.value}, {"t", micros(r.timestamp)}};
    if (!r.unit.empty()) o["u"] = r.unit;
    readings.push_back(std::move(o));
  }
  return {{"d", t.device_id}, {"r", std::move(readings)}};
}
model::TelemetryEvent telemetry_from(const json::object& o) {
  model::TelemetryEvent t;
  t.device_id = int_field(o, "d");
  for (const auto& rv : array_field(o, "r")) {
    const auto& r = as_object(rv, "a reading");
    model::MetricReading m;
    m.name = string_field(r, "n");
    m.value = number_field(r, "v");
    m.timestamp = from_micros(int_field(r, "t"));
    if (r.contains("u")) m.unit = string_field(r, "u");
    t.readings.push_back(std::move(m));
  }
  return t;
}

json::object error_json(const model::DomainError& e) {
  return {{"k", static_cast<int>(e.kind)}, {"m", e.message}, {"f", e.field}, {"x", e.details}};
}
model::DomainError error_from(const json::object& o) {
  model::DomainError e;
  constexpr int kKinds = static_cast<int>(model::DomainError::Kind::forbidden) + 1;
  e.kind = enum_field<model::DomainError::Kind>(o, "k", kKinds);
  e.message = string_field(o, "m");
  e.field = string_field(o, "f");
  e.details = object_or_empty(o, "x");
  return e;
}

}  // namespace

std::string encode_event(const model::EventBody& body) {
  json::object o;
  o["c"] = static_cast<int>(body.index());
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, model::TelemetryEvent>) {
          o["e"] = telemetry_json(b);
        } else if constexpr (std::is_same_v<T, model::AlertEvent>) {
          o["e"] = json::object{{"id", b.alert_id},          {"d", b.device_id},
                                {"s", static_cast<int>(b.severity)},
                                {"y", static_cast<int>(b.alert_type)},
                                {"ti", b.title},             {"m", b.message},
                                {"st", static_cast<int>(b.status)},
                                {"t", micros(b.timestamp)},  {"md", b.metadata}};
        } else if constexpr (std::is_same_v<T, model::DeviceStatusEvent>) {
          json::object e{{"d", b.device_id},
                         {"o", static_cast<int>(b.old_status)},
                         {"n", static_cast<int>(b.new_status)},
                         {"r", b.reason},
                         {"t", micros(b.timestamp)}};
          if (b.last_seen) e["ls"] = micros(*b.last_seen);
          o["e"] = std::move(e);
        } else {
          json::array metrics;
          for (const auto& [name, value] : b.metrics)
            metrics.push_back(json::array{json::value(name), json::value(value)});
          o["e"] = json::object{{"m", std::move(metrics)}, {"t", micros(b.timestamp)}};
        }
      },
      body);
  return json::serialize(o);
}

model::EventBody decode_event(std::string_view text) {
  const auto v = parse(text);
  const auto& o = as_object(v, "an event");
  const auto& e = as_object(field(o, "e"), "an event body");
  switch (enum_field<model::Channel>(o, "c", model::kChannelCount)) {
    case model::Channel::telemetry:
      return telemetry_from(e);
    case model::Channel::alerts: {
      model::AlertEvent a;
      a.alert_id = int_field(e, "id");
      a.device_id = int_field(e, "d");
      a.severity = enum_field<model::Severity>(e, "s", 3);
      a.alert_type = enum_field<model::AlertType>(e, "y", 5);
      a.title = string_field(e, "ti");
      a.message = string_field(e, "m");
      a.status = enum_field<model::AlertStatus>(e, "st", 3);
      a.timestamp = from_micros(int_field(e, "t"));
      a.metadata = object_or_empty(e, "md");
      return a;
    }
    case model::Channel::devices: {
      model::DeviceStatusEvent s;
      s.device_id = int_field(e, "d");
      s.old_status = enum_field<model::DeviceStatus>(e, "o", 5);
      s.new_status = enum_field<model::DeviceStatus>(e, "n", 5);
      s.reason = string_field(e, "r");
      s.timestamp = from_micros(int_field(e, "t"));
      if (e.contains("ls")) s.last_seen = from_micros(int_field(e, "ls"));
      return s;
    }
    case model::Channel::system: {
      model::SystemEvent s;
      for (const auto& mv : array_field(e, "m")) {
        if (!mv.is_array() || mv.get_array().size() != 2 || !mv.get_array()[0].is_string() ||
            !mv.get_array()[1].is_number())
          bad("a system metric is not [name, number]");
        s.metrics.emplace_back(std::string(mv.get_array()[0].get_string()),
                               mv.get_array()[1].to_number<double>());
      }
      s.timestamp = from_micros(int_field(e, "t"));
      return s;
    }
  }
  bad("unknown channel");
}

std::string encode_ingest(const IngestRequest& r) {
  json::array events;
  events.reserve(r.events.size());
  for (const auto& e : r.events) events.push_back(telemetry_json(e));
  return json::serialize(json::object{{"op", "ingest"},
                                      {"mode", static_cast<int>(r.mode)},
                                      {"events", std::move(events)}});
}

IngestRequest decode_ingest(std::string_view text) {
  const auto v = parse(text);
  const auto& o = as_object(v, "an ingest request");
  IngestRequest r;
  r.mode = enum_field<engine::IngestMode>(o, "mode", 3);
  for (const auto& ev : array_field(o, "events"))
    r.events.push_back(telemetry_from(as_object(ev, "an event")));
  return r;
}

std::string encode_report(const ReportRequest& r) {
  return json::serialize(json::object{{"op", "report"},
                                      {"d", r.device_id},
                                      {"s", static_cast<int>(r.report.status)},
                                      {"r", r.report.reason},
                                      {"md", r.report.metadata}});
}

ReportRequest decode_report(std::string_view text) {
  const auto v = parse(text);
  const auto& o = as_object(v, "a status report");
  ReportRequest r;
  r.device_id = int_field(o, "d");
  r.report.status = enum_field<model::DeviceStatus>(o, "s", 5);
  r.report.reason = string_field(o, "r");
  r.report.metadata = object_or_empty(o, "md");
  return r;
}

std::string op_of(std::string_view text) {
  const auto v = parse(text);
  return string_field(as_object(v, "a request"), "op");
}

std::string encode_answer(const Answer& a) {
  json::object o;
  if (a.error) o["err"] = error_json(*a.error);
  if (!a.verdicts.empty()) {
    json::array verdicts;
    verdicts.reserve(a.verdicts.size());
    for (const auto& v : a.verdicts) verdicts.push_back(v ? json::value(error_json(*v)) : nullptr);
    o["v"] = std::move(verdicts);
  }
  return json::serialize(o);
}

Answer decode_answer(std::string_view text) {
  const auto v = parse(text);
  const auto& o = as_object(v, "an answer");
  Answer a;
  if (o.contains("err")) a.error = error_from(as_object(o.at("err"), "an error"));
  if (o.contains("v")) {
    for (const auto& x : array_field(o, "v")) {
      if (x.is_null())
        a.verdicts.emplace_back(std::nullopt);
      else
        a.verdicts.emplace_back(error_from(as_object(x, "a verdict")));
    }
  }
  return a;
}

std::string encode_change(const engine::Change& c) {
  return json::serialize(json::object{{"k", static_cast<int>(c.kind)}, {"id", c.id}});
}

engine::Change decode_change(std::string_view text) {
  const auto v = parse(text);
  const auto& o = as_object(v, "a change");
  return {enum_field<engine::Change::Kind>(o, "k", 2), int_field(o, "id")};
}

}  // namespace valtronics::cluster::wire
