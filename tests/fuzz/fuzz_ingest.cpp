// Fuzz target: the HTTP ingest body parser (api::parse_single and api::parse_batch, the bodies
// of POST /api/v1/telemetry and /api/v1/telemetry/batch).
//
// The whole input is the request body; each input runs parse_single, parse_batch with a large
// and with a small item limit, and the wrapped forms described below. Checked, beyond no
// crash/UB:
//  - an error is `invalid`, answered as VALIDATION_ERROR (400), with a non-empty message, details
//    naming a field or an index inside the batch, and its envelope (api::error_response) is
//    valid UTF-8 and JSON carrying the same code and message;
//  - on success every reading of the body is there exactly once: per device, the events'
//    readings in order are the body's items in order (name, value, unit, timestamp, with `now` or
//    the item's timestamp where none is given); device ids positive, names [a-z0-9_.-]{1,64},
//    values finite, no event naming a metric twice, a further event for a device only when its
//    first metric repeats one of the previous event;
//  - a single item gives the same readings through parse_single and as a one-item batch; a bare
//    array and {"telemetry_data": array} give the same result; the small limit only refuses
//    batches over it;
//  - timestamps accepted re-format (util::iso8601) to text that parses back to the same
//    millisecond.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "api/errors.hpp"
#include "api/ingest_body.hpp"
#include "check.hpp"
#include "protocol/json_writer.hpp"
#include "util/time.hpp"

namespace json = boost::json;
namespace api = valtronics::api;
namespace model = valtronics::model;
namespace protocol = valtronics::protocol;
namespace util = valtronics::util;

namespace {

using Result = decltype(api::parse_single(std::string_view{}, util::TimePoint{}));
using Events = std::remove_cvref_t<decltype(std::declval<Result>().value())>;

constexpr std::size_t kLargeLimit = 1000;
constexpr std::size_t kSmallLimit = 3;

const util::TimePoint kNow = util::TimePoint(std::chrono::seconds(1'750'000'000));  // 2025-06-15

bool valid_metric_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

std::optional<json::value> parse_json(std::string_view text, std::size_t depth) {
  json::parse_options po;
  po.max_depth = depth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, json::storage_ptr{}, po);
  if (ec) return std::nullopt;
  return v;
}

// What one reading of the body should become.
struct Expected {
  std::string name;
  double value;
  std::string unit;
  util::TimePoint timestamp;
};

double number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

const json::value* given(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

util::TimePoint timestamp_of(const json::object& o, util::TimePoint fallback) {
  const auto* t = given(o, "timestamp");
  if (!t) return fallback;
  FUZZ_CHECK(t->is_string(), "accepted a timestamp that is not a string");
  auto ts = util::parse_iso8601(t->get_string());
  FUZZ_CHECK(ts.has_value(), "accepted timestamp %s does not parse", std::string(t->get_string()).c_str());
  return *ts;
}

std::string unit_of(const json::object& o) {
  const auto* u = given(o, "unit");
  if (!u) return {};
  FUZZ_CHECK(u->is_string(), "accepted a unit that is not a string");
  return std::string(u->get_string());
}

// The readings of an accepted item, per device, in body order.
void expected_readings(const json::value& item, std::map<std::int64_t, std::vector<Expected>>& out,
                       std::size_t& count) {
  FUZZ_CHECK(item.is_object(), "accepted an item that is not an object");
  const auto& o = item.get_object();
  const auto* d = o.if_contains("device_id");
  FUZZ_CHECK(d && d->is_int64() && d->get_int64() > 0, "accepted an item without a positive device_id");
  auto& list = out[d->get_int64()];
  if (const auto* tel = given(o, "telemetry")) {
    FUZZ_CHECK(!o.contains("metric_name") && !o.contains("metric_value"), "accepted both forms in one item");
    FUZZ_CHECK(tel->is_object() && !tel->get_object().empty(), "accepted an empty or non-object telemetry");
    const util::TimePoint item_ts = timestamp_of(o, kNow);
    for (const auto& kv : tel->get_object()) {
      const auto& m = kv.value().get_object();
      list.push_back({std::string(kv.key()), number(m.at("value")), unit_of(m), timestamp_of(m, item_ts)});
      ++count;
    }
  } else {
    list.push_back({std::string(o.at("metric_name").get_string()), number(o.at("metric_value")), unit_of(o),
                    timestamp_of(o, kNow)});
    ++count;
  }
}

std::string code_of(const model::DomainError& e) {
  return std::string(api::to_string(api::error_code(e.kind)));
}

std::string describe(const Result& r) {
  if (r) return "success with " + std::to_string(r->size()) + " events";
  return code_of(r.error()) + ": " + r.error().message;
}

void check_error(const model::DomainError& e, std::optional<std::size_t> items) {
  const api::Response res = api::error_response(e);
  FUZZ_CHECK(e.kind == model::DomainError::Kind::invalid && res.status == 400 &&
                 code_of(e) == "VALIDATION_ERROR",
             "error %d %s", res.status, code_of(e).c_str());
  FUZZ_CHECK(!e.message.empty(), "error with an empty message");
  FUZZ_CHECK(e.message.size() <= 512, "error message of %zu bytes", e.message.size());
  const json::object& details = res.body.at("error").at("details").as_object();
  const auto* field = details.if_contains("field");
  const auto* index = details.if_contains("index");
  FUZZ_CHECK((field && field->is_string() && !field->get_string().empty()) || index,
             "error details name neither a field nor an index: %s", e.message.c_str());
  if (index) {
    FUZZ_CHECK(items && index->is_uint64() && index->get_uint64() < *items, "details.index outside the batch");
  }
  // The envelope the client gets must be UTF-8 and JSON, and say what the error says.
  FUZZ_CHECK(fuzz::reference_utf8(e.message), "error message is not valid UTF-8: %s", e.message.c_str());
  const std::string body = protocol::to_json(res.body);
  FUZZ_CHECK(fuzz::reference_utf8(body), "error envelope is not valid UTF-8: %s", body.c_str());
  const auto v = parse_json(body, 64);
  FUZZ_CHECK(v && v->is_object(), "error envelope is not JSON: %s", body.c_str());
  const auto& err = v->at("error");
  FUZZ_CHECK(v->at("success") == false && err.at("code") == json::value(code_of(e)) &&
                 err.at("message") == json::value(e.message),
             "error envelope differs from the error: %s", body.c_str());
}

void check_events(const Events& events, const std::map<std::int64_t, std::vector<Expected>>& expected,
                  std::size_t count) {
  std::map<std::int64_t, std::size_t> next;              // per device: readings matched so far
  std::map<std::int64_t, const typename Events::value_type*> previous;  // per device: last event
  std::size_t total = 0;
  for (const auto& ev : events) {
    FUZZ_CHECK(ev.device_id > 0, "event for device %lld", static_cast<long long>(ev.device_id));
    FUZZ_CHECK(!ev.readings.empty(), "event without readings");
    const auto it = expected.find(ev.device_id);
    FUZZ_CHECK(it != expected.end(), "event for a device the body does not name");
    for (std::size_t i = 0; i < ev.readings.size(); ++i) {
      const auto& r = ev.readings[i];
      FUZZ_CHECK(valid_metric_name(r.name), "reading named %s", r.name.c_str());
      FUZZ_CHECK(std::isfinite(r.value), "reading with a non-finite value");
      for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(ev.readings[j].name != r.name, "event names %s twice", r.name.c_str());
      std::size_t& n = next[ev.device_id];
      FUZZ_CHECK(n < it->second.size(), "more readings for device %lld than the body has",
                 static_cast<long long>(ev.device_id));
      const Expected& x = it->second[n++];
      FUZZ_CHECK(r.name == x.name && r.unit == x.unit && r.timestamp == x.timestamp &&
                     (r.value == x.value || (std::isnan(r.value) && std::isnan(x.value))),
                 "reading %s=%g differs from the body's %s=%g (or unit/timestamp)", r.name.c_str(), r.value,
                 x.name.c_str(), x.value);
      ++total;
    }
    // A device gets a further event only when a metric repeats.
    auto& prev = previous[ev.device_id];
    if (prev) {
      const auto& first = ev.readings.front().name;
      const bool repeats = std::any_of(prev->readings.begin(), prev->readings.end(),
                                       [&](const auto& r) { return r.name == first; });
      FUZZ_CHECK(repeats, "device %lld split into two events without a repeated metric",
                 static_cast<long long>(ev.device_id));
    }
    prev = &ev;
  }
  FUZZ_CHECK(total == count, "%zu readings out, %zu in the body", total, count);
}

bool same_events(const Events& a, const Events& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].device_id != b[i].device_id || a[i].readings.size() != b[i].readings.size()) return false;
    for (std::size_t j = 0; j < a[i].readings.size(); ++j) {
      const auto& x = a[i].readings[j];
      const auto& y = b[i].readings[j];
      if (x.name != y.name || x.value != y.value || x.unit != y.unit || x.timestamp != y.timestamp) return false;
    }
  }
  return true;
}

void check_timestamps_round_trip(const json::value& v, int depth = 0) {
  if (depth > 24) return;
  if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) {
      if (kv.key() == "timestamp" && kv.value().is_string()) {
        const std::string_view s = kv.value().get_string();
        if (auto t = util::parse_iso8601(s)) {
          const std::string text = util::iso8601(*t);
          const auto back = util::parse_iso8601(text);
          FUZZ_CHECK(text.size() == 24 && back && *back == std::chrono::floor<std::chrono::milliseconds>(*t),
                     "timestamp %s formats as %s", std::string(s).c_str(), text.c_str());
        }
      }
      check_timestamps_round_trip(kv.value(), depth + 1);
    }
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a) check_timestamps_round_trip(e, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // Deep enough for any body the parser accepts (it refuses beyond 20 levels).
  const std::optional<json::value> v = parse_json(body, 64);
  if (v) check_timestamps_round_trip(*v);

  // The items of the body, when it has the shape of a batch.
  const json::array* items = nullptr;
  if (v && v->is_array()) items = &v->get_array();
  if (v && v->is_object()) {
    if (const auto* td = v->get_object().if_contains("telemetry_data"); td && td->is_array()) items = &td->get_array();
  }

  // parse_single
  const Result single = api::parse_single(body, kNow);
  if (!single) {
    check_error(single.error(), std::nullopt);
    FUZZ_CHECK(!single.error().details.contains("index"), "a single item's error names an index");
  } else {
    FUZZ_CHECK(v && v->is_object(), "parse_single accepted a body that is not a JSON object");
    std::map<std::int64_t, std::vector<Expected>> expected;
    std::size_t count = 0;
    expected_readings(*v, expected, count);
    check_events(*single, expected, count);
  }

  // parse_batch, large and small limits. The limit counts readings (items x metrics, what costs),
  // not items: a batch the large limit takes is refused by the small one exactly when it holds
  // more readings than that.
  const Result batch = api::parse_batch(body, kLargeLimit, kNow);
  std::size_t batch_readings = 0;
  if (!batch) {
    check_error(batch.error(), items ? std::optional(items->size()) : std::nullopt);
  } else {
    FUZZ_CHECK(items && !items->empty() && items->size() <= kLargeLimit, "parse_batch accepted %s",
               v ? "a body without 1..limit items" : "invalid JSON");
    std::map<std::int64_t, std::vector<Expected>> expected;
    for (const auto& item : *items) expected_readings(item, expected, batch_readings);
    check_events(*batch, expected, batch_readings);
  }
  const Result small = api::parse_batch(body, kSmallLimit, kNow);
  if (!batch) {
    FUZZ_CHECK(!small, "the small limit accepted what the large one refused: %s",
               describe(small).c_str());
  } else if (batch_readings > kSmallLimit) {
    FUZZ_CHECK(!small && small.error().details.contains("max_items"),
               "batch of %zu readings over the limit %zu: %s", batch_readings, kSmallLimit,
               describe(small).c_str());
  } else {
    FUZZ_CHECK(small && same_events(*batch, *small),
               "limits %zu and %zu disagree on %zu readings: %s vs %s", kLargeLimit, kSmallLimit,
               batch_readings, describe(batch).c_str(), describe(small).c_str());
  }

  // Wrapped forms, when the wrapping stays within the parser's depth limit.
  if (v && parse_json(body, 19)) {
    if (v->is_object() && !items) {
      const std::string wrapped = "[" + std::string(body) + "]";
      const Result one = api::parse_batch(wrapped, kLargeLimit, kNow);
      FUZZ_CHECK(one.has_value() == single.has_value() && (!one || same_events(*one, *single)),
                 "one item: parse_single %s, as a batch %s", describe(single).c_str(), describe(one).c_str());
      if (!one) FUZZ_CHECK(one.error().kind == single.error().kind, "error kinds differ");
    }
    if (v->is_array()) {
      const std::string wrapped = "{\"telemetry_data\":" + std::string(body) + "}";
      const Result obj = api::parse_batch(wrapped, kLargeLimit, kNow);
      FUZZ_CHECK(obj.has_value() == batch.has_value() && (!obj || same_events(*obj, *batch)) &&
                     (obj || obj.error().message == batch.error().message),
                 "bare array %s, as telemetry_data %s", describe(batch).c_str(), describe(obj).c_str());
    }
  }
  return 0;
}
