// The Telemetry API's bodies: an untrusted HTTP body becomes telemetry events, or exactly one
// `invalid` error naming the first offending item and field. It never throws, whatever the bytes:
// the ingest handler calls it on the network thread. The body-size limit is enforced before
// parsing, by the transport (api::payload_too_large).
#include "api/ingest_body.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <optional>
#include <unordered_map>
#include <utility>

#include "api/body_fields.hpp"
#include "config/limits.hpp"
#include "util/text.hpp"

namespace valtronics::api {

namespace json = boost::json;

namespace {

// Readings and their metadata are flat; 20 levels leaves room for rich metadata while keeping a
// hostile "[[[[..." body from costing more than a bounded amount of parser work.
constexpr std::size_t kMaxDepth = 20;
// Client-supplied names are echoed in messages; a long one must not blow up the reply.
constexpr std::size_t kMaxEchoedName = 80;
// A unit is copied into every telemetry update and into alert messages: bounded as the
// platform bounds it (20 characters), so that no stored reading can make an alert frame large.
constexpr std::size_t kMaxUnitChars = limits::kMaxUnitChars;

using util::code_points;  // the body passed Boost.JSON's UTF-8 check

using Result = IngestResult;
using Error = std::optional<model::DomainError>;

// Where an item sits: batches name the index, a single reading has none.
using ItemIndex = std::optional<std::size_t>;

model::DomainError validation_error(ItemIndex index, std::string field,
                                    std::string_view problem) {
  model::DomainError e;
  e.kind = model::DomainError::Kind::invalid;
  if (index) {
    e.message = "item " + std::to_string(*index) + ": ";
    e.details["index"] = *index;
  }
  e.message += field;
  e.message += ' ';
  e.message += problem;
  e.details["field"] = field;
  e.field = std::move(field);
  return e;
}

model::DomainError body_error(std::string message) {
  model::DomainError e = model::invalid("body", std::move(message));
  e.details["field"] = "body";
  return e;
}

// At most kMaxEchoedName bytes of `s`, then "...". The cut steps back to the start of the
// character it would split (the body passed Boost.JSON's UTF-8 check), so the message, and
// the reply, stay valid UTF-8.
std::string echo_name(std::string_view s) {
  if (s.size() <= kMaxEchoedName) return std::string(s);
  std::size_t n = kMaxEchoedName;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // continuation byte
  return std::string(s.substr(0, n)) + "...";
}

// A key that is absent or null: both mean "not given" for optional fields, since clients
// serializing an Optional (pydantic, dataclasses) send null rather than leaving the key out.
const json::value* optional_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return nullptr;
  return v;
}

// Collects readings into one event per device, keeping first-appearance order.
class Merger {
 public:
  void add(std::int64_t device_id, model::MetricReading reading) {
    auto it = latest_.find(device_id);
    if (it != latest_.end()) {
      auto& ev = events_[it->second];
      bool repeated = false;
      for (const auto& r : ev.readings) {
        if (r.name == reading.name) { repeated = true; break; }
      }
      if (!repeated) {
        ev.readings.push_back(std::move(reading));
        return;
      }
    }
    model::TelemetryEvent ev;
    ev.device_id = device_id;
    ev.readings.push_back(std::move(reading));
    events_.push_back(std::move(ev));
    latest_[device_id] = events_.size() - 1;
  }

  std::vector<model::TelemetryEvent> take() { return std::move(events_); }

 private:
  std::vector<model::TelemetryEvent> events_;
  std::unordered_map<std::int64_t, std::size_t> latest_;
};

// Reads the optional unit/timestamp/metadata of a reading; `prefix` is prepended to field names
// so a form-2 error says "telemetry.temperature.unit".
Error read_optional_fields(const json::object& o, ItemIndex index,
                                                const std::string& prefix,
                                                util::TimePoint default_ts,
                                                model::MetricReading& out) {
  if (const json::value* u = optional_field(o, "unit")) {
    if (!u->is_string()) return validation_error(index, prefix + "unit", "must be a string");
    if (code_points(u->get_string()) > kMaxUnitChars)
      return validation_error(index, prefix + "unit",
                              "must be at most " + std::to_string(kMaxUnitChars) + " characters");
    out.unit = std::string(u->get_string());
  }
  out.timestamp = default_ts;
  if (const json::value* t = optional_field(o, "timestamp")) {
    if (!t->is_string())
      return validation_error(index, prefix + "timestamp",
                              "must be an ISO-8601 string such as \"2024-01-01T12:00:00Z\"");
    auto ts = util::parse_iso8601(t->get_string());
    if (!ts)
      return validation_error(index, prefix + "timestamp",
                              "is not a valid ISO-8601 timestamp such as \"2024-01-01T12:00:00Z\"");
    out.timestamp = *ts;
  }
  // Metadata is validated so the request is all-or-nothing as the platform's is, but telemetry
  // events carry no metadata: subscribers receive only value, unit and timestamp.
  if (const json::value* m = optional_field(o, "metadata")) {
    if (!m->is_object()) return validation_error(index, prefix + "metadata", "must be an object");
  }
  return std::nullopt;
}

Error read_device_id(const json::object& o, ItemIndex index, std::int64_t& out) {
  const json::value* d = o.if_contains("device_id");
  if (d == nullptr) return validation_error(index, "device_id", "is required");
  // Only JSON integers: 1.0 or "1" are refused so that what is accepted is unambiguous.
  if (!d->is_int64() || d->get_int64() <= 0)
    return validation_error(index, "device_id", "must be a positive integer");
  out = d->get_int64();
  return std::nullopt;
}

// Form 1: {"device_id","metric_name","metric_value",["unit","timestamp","metadata"]}.
Error parse_flat(const json::object& o, std::int64_t device_id, ItemIndex index,
                 util::TimePoint now, Merger& merger) {
  model::MetricReading r;
  const json::value* n = o.if_contains("metric_name");
  if (n == nullptr) return validation_error(index, "metric_name", "is required");
  if (!n->is_string()) return validation_error(index, "metric_name", "must be a string");
  if (!body::valid_metric_name(n->get_string()))
    return validation_error(index, "metric_name",
                            "must match [a-z0-9_.-]{1,64}, got \"" +
                                echo_name(n->get_string()) + "\"");
  r.name = std::string(n->get_string());

  const json::value* v = o.if_contains("metric_value");
  if (v == nullptr) return validation_error(index, "metric_value", "is required");
  auto value = body::finite_number(*v);
  if (!value) return validation_error(index, "metric_value", "must be a finite number");
  r.value = *value;

  if (auto err = read_optional_fields(o, index, "", now, r)) return err;
  merger.add(device_id, std::move(r));
  return std::nullopt;
}

// Form 2: {"device_id","telemetry":{name:{"value",["unit","timestamp","metadata"]}}}.
Error parse_nested(const json::object& o, std::int64_t device_id, ItemIndex index,
                   util::TimePoint now, Merger& merger) {
  util::TimePoint item_ts = now;
  if (const json::value* t = optional_field(o, "timestamp")) {
    if (!t->is_string())
      return validation_error(index, "timestamp",
                              "must be an ISO-8601 string such as \"2024-01-01T12:00:00Z\"");
    auto ts = util::parse_iso8601(t->get_string());
    if (!ts)
      return validation_error(index, "timestamp",
                              "is not a valid ISO-8601 timestamp such as \"2024-01-01T12:00:00Z\"");
    item_ts = *ts;
  }

  const json::value& tv = o.at("telemetry");
  if (!tv.is_object()) return validation_error(index, "telemetry", "must be an object");
  const json::object& tel = tv.get_object();
  if (tel.empty()) return validation_error(index, "telemetry", "must contain at least one metric");

  for (const auto& kv : tel) {
    std::string_view name = kv.key();
    if (!body::valid_metric_name(name))
      return validation_error(index, "telemetry",
                              "metric names must match [a-z0-9_.-]{1,64}, got \"" +
                                  echo_name(name) + "\"");
    std::string prefix = "telemetry." + std::string(name) + ".";
    if (!kv.value().is_object())
      return validation_error(index, "telemetry." + std::string(name),
                              "must be an object with a \"value\"");
    const json::object& m = kv.value().get_object();

    model::MetricReading r;
    r.name = std::string(name);
    const json::value* v = m.if_contains("value");
    if (v == nullptr) return validation_error(index, prefix + "value", "is required");
    auto value = body::finite_number(*v);
    if (!value) return validation_error(index, prefix + "value", "must be a finite number");
    r.value = *value;
    if (auto err = read_optional_fields(m, index, prefix, item_ts, r)) return err;
    merger.add(device_id, std::move(r));
  }
  return std::nullopt;
}

// `topic_device`: the device named outside the body (an MQTT topic); the body may then leave
// device_id out, and one it gives must be the same.
Error parse_item(const json::value& item, ItemIndex index, util::TimePoint now, Merger& merger,
                 std::optional<std::int64_t> topic_device = std::nullopt) {
  if (!item.is_object()) {
    if (!index) return body_error("body must be a JSON object");
    model::DomainError e;
    e.kind = model::DomainError::Kind::invalid;
    e.message = "item " + std::to_string(*index) + " must be a JSON object";
    e.details["index"] = *index;
    return e;
  }
  const json::object& o = item.get_object();
  std::int64_t device_id = 0;
  if (topic_device && !o.contains("device_id")) {
    device_id = *topic_device;
  } else {
    if (auto err = read_device_id(o, index, device_id)) return err;
    if (topic_device && device_id != *topic_device)
      return validation_error(index, "device_id",
                              "is " + std::to_string(device_id) + " but the topic names device " +
                                  std::to_string(*topic_device));
  }

  bool nested = optional_field(o, "telemetry") != nullptr;
  bool flat = o.contains("metric_name") || o.contains("metric_value");
  // Mixing both forms is most likely a client bug; guessing which half was meant would silently
  // drop readings.
  if (nested && flat)
    return validation_error(index, "telemetry",
                            "cannot be combined with metric_name/metric_value; use one form");
  if (nested) return parse_nested(o, device_id, index, now, merger);
  return parse_flat(o, device_id, index, now, merger);
}

model::Result<json::value> parse_json(std::string_view body) {
  json::parse_options opts;
  opts.max_depth = kMaxDepth;
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, json::storage_ptr(), opts);
  if (ec) {
    if (ec == json::error::too_deep)
      return body_error("body is nested deeper than " + std::to_string(kMaxDepth) + " levels");
    return body_error("body is not valid JSON (" + ec.message() + ")");
  }
  return v;
}

// Any exception here (realistically only bad_alloc) becomes an error reply rather than an
// escape into the network code.
template <class F>
Result guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& ex) {
    try {
      return body_error(std::string("body could not be processed: ") + ex.what());
    } catch (...) {
    }
  } catch (...) {
  }
  // Last resort when even building the message fails: an empty error value.
  return Result(boost::system::in_place_error, model::DomainError{});
}

}  // namespace

Result parse_single(std::string_view body, util::TimePoint now) {
  return guarded([&]() -> Result {
    auto parsed = parse_json(body);
    if (!parsed) return parsed.error();
    const json::value& v = *parsed;
    if (v.is_array())
      return body_error(
          "body must be a JSON object; send several readings to /api/v1/telemetry/batch");
    Merger merger;
    if (auto err = parse_item(v, std::nullopt, now, merger)) return std::move(*err);
    return merger.take();
  });
}

Result parse_for_device(std::string_view body, std::int64_t device_id, util::TimePoint now) {
  return guarded([&]() -> Result {
    auto parsed = parse_json(body);
    if (!parsed) return parsed.error();
    if (parsed->is_array()) return body_error("body must be a JSON object");
    Merger merger;
    if (auto err = parse_item(*parsed, std::nullopt, now, merger, device_id))
      return std::move(*err);
    return merger.take();
  });
}

Result parse_metric(std::string_view body, std::int64_t device_id, std::string_view metric,
                    util::TimePoint now) {
  return guarded([&]() -> Result {
    if (!body::valid_metric_name(metric))
      return validation_error(std::nullopt, "metric_name",
                              "must match [a-z0-9_.-]{1,64}, got \"" + echo_name(metric) + "\"");
    auto parsed = parse_json(body);
    if (!parsed) return parsed.error();
    model::MetricReading r;
    r.name = std::string(metric);
    r.timestamp = now;
    if (const json::object* o = parsed->if_object()) {
      const json::value* v = o->if_contains("value");
      if (v == nullptr) return validation_error(std::nullopt, "value", "is required");
      auto value = body::finite_number(*v);
      if (!value) return validation_error(std::nullopt, "value", "must be a finite number");
      r.value = *value;
      if (auto err = read_optional_fields(*o, std::nullopt, "", now, r)) return std::move(*err);
    } else {
      auto value = body::finite_number(*parsed);
      if (!value)
        return body_error("body must be a finite number or an object with a \"value\"");
      r.value = *value;
    }
    model::TelemetryEvent ev;
    ev.device_id = device_id;
    ev.readings.push_back(std::move(r));
    return std::vector<model::TelemetryEvent>{std::move(ev)};
  });
}

Result parse_batch(std::string_view body, std::size_t max_items, util::TimePoint now) {
  return guarded([&]() -> Result {
    auto parsed = parse_json(body);
    if (!parsed) return parsed.error();
    const json::value& v = *parsed;

    const json::array* items = nullptr;
    if (v.is_array()) {
      items = &v.get_array();
    } else if (v.is_object()) {
      const json::value* td = v.get_object().if_contains("telemetry_data");
      if (td == nullptr) return validation_error(std::nullopt, "telemetry_data", "is required");
      if (!td->is_array())
        return validation_error(std::nullopt, "telemetry_data", "must be an array");
      items = &td->get_array();
    } else {
      return body_error("body must be {\"telemetry_data\":[...]} or a JSON array");
    }

    if (items->empty())
      return validation_error(std::nullopt, "telemetry_data", "must contain at least one item");
    if (items->size() > max_items) {
      auto e = validation_error(std::nullopt, "telemetry_data",
                                "has " + std::to_string(items->size()) +
                                    " items; at most " + std::to_string(max_items) +
                                    " are allowed per request");
      e.details["max_items"] = max_items;
      e.details["count"] = items->size();
      return e;
    }

    Merger merger;
    for (std::size_t i = 0; i < items->size(); ++i) {
      if (auto err = parse_item((*items)[i], i, now, merger)) return std::move(*err);
    }
    // max_items bounds readings (what costs: one item may carry many metrics), not items.
    auto events = merger.take();
    std::size_t readings = 0;
    for (const auto& e : events) readings += e.readings.size();
    if (readings > max_items) {
      auto e = validation_error(std::nullopt, "telemetry_data",
                                "has " + std::to_string(readings) + " readings; at most " +
                                    std::to_string(max_items) + " are allowed per request");
      e.details["max_items"] = max_items;
      e.details["count"] = readings;
      return e;
    }
    return events;
  });
}

}  // namespace valtronics::api
