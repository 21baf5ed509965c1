// Fuzz target: the client message parser (protocol::parse_request, parse_request_value and
// is_batch_frame) on any text frame, with the default ParseOptions and with small limits.
//
// The whole input is the frame's text. Checked, beyond no crash/UB:
//  - an error has a catalogued code, a non-empty, short, valid UTF-8 message and an id only when
//    it is a string or a finite number; a readable id is echoed in the reply, success or error;
//  - parse_request(text) and parse_request_value(json::parse(text)) agree; is_batch_frame agrees;
//  - a subscribe's filters are normalized (sorted, unique, positive ids, valid metric names,
//    frequency within bounds) and only its channel's keys are set; the same filters moved all
//    under `filters`, or all to the top level, parse to the same Filters;
//  - a batch holds at most max_batch messages, none of them a batch, and each element parses
//    (parse_request_value) to a non-batch request or a well-formed error;
//  - what the small limits accept, the defaults accept too, as the same request.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "check.hpp"
#include "config/limits.hpp"
#include "protocol/errors.hpp"
#include "protocol/messages.hpp"
#include "protocol/parse.hpp"

namespace json = boost::json;
namespace protocol = valtronics::protocol;
using protocol::ErrorCode;
using Result = boost::system::result<protocol::Request, protocol::ProtocolError>;
// protocol::Channel, or model::Channel since the domain model moved to src/model/.
using Channel = decltype(protocol::SubscribeRequest{}.channel);

namespace {

const protocol::ParseOptions& default_options() {
  static const protocol::ParseOptions opts;
  return opts;
}

const protocol::ParseOptions& small_options() {
  static const protocol::ParseOptions opts = [] {
    // Each limit at most the default's (so that they are only stricter), whatever the defaults.
    protocol::ParseOptions o;
    o.max_batch = std::min<std::size_t>(o.max_batch, 2);
    o.system_min_frequency = std::max<std::chrono::milliseconds>(o.system_min_frequency, std::chrono::seconds(2));
    o.system_default_frequency = o.system_min_frequency + std::chrono::seconds(3);
    o.system_metrics.resize(std::min<std::size_t>(o.system_metrics.size(), 2));
    return o;
  }();
  return opts;
}

std::optional<json::value> parse_json(std::string_view text) {
  json::parse_options po;
  po.max_depth = valtronics::limits::kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, json::storage_ptr{}, po);
  if (ec) return std::nullopt;
  return v;
}

bool valid_id(const json::value& v) {
  return v.is_string() || v.is_int64() || v.is_uint64() || (v.is_double() && std::isfinite(v.get_double()));
}

// The id a reply should echo: the object's `id` when it is a string or a finite number.
std::optional<json::value> readable_id(const json::value& v) {
  const auto* o = v.if_object();
  if (!o) return std::nullopt;
  const auto* id = o->if_contains("id");
  if (!id || !valid_id(*id)) return std::nullopt;
  return *id;
}

bool is_batch_object(const json::value& v) {
  const auto* o = v.if_object();
  if (!o) return false;
  const auto* t = o->if_contains("type");
  return t && t->is_string() && t->get_string() == "batch";
}

bool valid_metric_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

template <class V>
bool sorted_unique(const V& v) {
  return std::is_sorted(v.begin(), v.end()) && std::adjacent_find(v.begin(), v.end()) == v.end();
}

std::string text_of(const Result& r) {
  if (r) return "request of kind " + std::to_string(r->body.index());
  return std::string(protocol::to_string(r.error().code)) + ": " + r.error().message;
}

void check_error(const protocol::ProtocolError& e) {
  bool catalogued = false;
  for (const auto& info : protocol::error_catalogue()) catalogued |= info.code == e.code;
  FUZZ_CHECK(catalogued, "error code %d is not in the catalogue", static_cast<int>(e.code));
  FUZZ_CHECK(!e.message.empty(), "error %s has an empty message", std::string(protocol::to_string(e.code)).c_str());
  FUZZ_CHECK(e.message.size() <= 512, "error message of %zu bytes", e.message.size());
  FUZZ_CHECK(fuzz::reference_utf8(e.message), "error message is not valid UTF-8: %s", e.message.c_str());
  FUZZ_CHECK(e.code != ErrorCode::internal_error, "internal_error: %s", e.message.c_str());
  if (e.id) FUZZ_CHECK(valid_id(*e.id), "error echoes an id that is not a string or finite number");
}

void check_filters(const protocol::SubscribeRequest& s, const protocol::ParseOptions& opts) {
  const auto& f = s.filters;
  const Channel c = s.channel;
  FUZZ_CHECK(sorted_unique(f.device_ids) && sorted_unique(f.metrics) && sorted_unique(f.severities) &&
                 sorted_unique(f.alert_types) && sorted_unique(f.status_types),
             "filter lists are not sorted and unique");
  for (auto id : f.device_ids) FUZZ_CHECK(id > 0, "device id %lld", static_cast<long long>(id));
  for (const auto& m : f.metrics) {
    if (c == Channel::system) {
      FUZZ_CHECK(std::find(opts.system_metrics.begin(), opts.system_metrics.end(), m) !=
                     opts.system_metrics.end(),
                 "unknown system metric %s accepted", m.c_str());
    } else {
      FUZZ_CHECK(valid_metric_name(m), "metric name %s accepted", m.c_str());
    }
  }
  // Only the channel's own keys are ever set.
  const bool tel = c == Channel::telemetry, al = c == Channel::alerts, dev = c == Channel::devices,
             sys = c == Channel::system;
  FUZZ_CHECK(f.device_ids.empty() || !sys, "device_id on system");
  FUZZ_CHECK(f.metrics.empty() || tel || sys, "metrics on %d", static_cast<int>(c));
  FUZZ_CHECK((f.severities.empty() && f.alert_types.empty() && !f.since_alert_id) || al, "alert filters off alerts");
  FUZZ_CHECK(f.status_types.empty() || dev, "status_types off devices");
  FUZZ_CHECK(!f.snapshot || tel || dev, "snapshot on %d", static_cast<int>(c));
  FUZZ_CHECK(!f.since_alert_id || *f.since_alert_id >= 0, "negative since_alert_id");
  if (tel) {
    FUZZ_CHECK(f.frequency.count() == 0 || f.frequency >= valtronics::limits::kTelemetryMinFrequency,
               "telemetry frequency %lld ms", static_cast<long long>(f.frequency.count()));
  } else if (sys) {
    FUZZ_CHECK(f.frequency >= opts.system_min_frequency, "system frequency %lld ms",
               static_cast<long long>(f.frequency.count()));
  } else {
    FUZZ_CHECK(f.frequency.count() == 0, "frequency on %d", static_cast<int>(c));
  }
}

// The subscribe message with every filter key moved under `filters` (nested) or to the top
// level (!nested). Both places mean the same, so the result must parse to the same Filters.
json::object move_filters(const json::object& o, bool nested) {
  json::object out;
  json::object filters;
  for (const auto& kv : o) {
    const std::string_view k = kv.key();
    if (k == "type" || k == "id" || k == "channel") out[k] = kv.value();
    else if (k != "filters") filters[k] = kv.value();
  }
  if (const auto* f = o.if_contains("filters"); f && f->is_object()) {
    for (const auto& kv : f->get_object()) filters[kv.key()] = kv.value();
  }
  if (nested) {
    out["filters"] = std::move(filters);
  } else {
    for (auto& kv : filters) out[kv.key()] = kv.value();
  }
  return out;
}

bool same_request(const protocol::Request& a, const protocol::Request& b) {
  if (a.id != b.id || a.body.index() != b.body.index()) return false;
  if (const auto* s = std::get_if<protocol::SubscribeRequest>(&a.body)) {
    const auto& t = std::get<protocol::SubscribeRequest>(b.body);
    return s->channel == t.channel && s->filters == t.filters;
  }
  if (const auto* u = std::get_if<protocol::UnsubscribeRequest>(&a.body)) {
    const auto& t = std::get<protocol::UnsubscribeRequest>(b.body);
    return u->channel == t.channel && u->device_id == t.device_id;
  }
  if (const auto* x = std::get_if<protocol::AuthRequest>(&a.body)) {
    const auto& t = std::get<protocol::AuthRequest>(b.body);
    return x->token == t.token && x->malformed == t.malformed;
  }
  if (const auto* p = std::get_if<protocol::PingRequest>(&a.body)) {
    return p->timestamp == std::get<protocol::PingRequest>(b.body).timestamp;
  }
  if (const auto* k = std::get_if<protocol::AckRequest>(&a.body)) {
    return k->delivery_ids == std::get<protocol::AckRequest>(b.body).delivery_ids;
  }
  if (const auto* h = std::get_if<protocol::HelloRequest>(&a.body)) {
    return h->features == std::get<protocol::HelloRequest>(b.body).features;
  }
  return std::get<protocol::BatchRequest>(a.body).messages ==
         std::get<protocol::BatchRequest>(b.body).messages;
}

bool same_result(const Result& a, const Result& b) {
  if (a.has_value() != b.has_value()) return false;
  if (a) return same_request(*a, *b);
  return a.error().code == b.error().code && a.error().message == b.error().message &&
         a.error().id == b.error().id;
}

// Checks one parse of `v` (the JSON of the frame, or of a batch element) with `opts`.
void check_result(const Result& r, const json::value* v, const protocol::ParseOptions& opts,
                  bool batch_element) {
  if (!r) {
    check_error(r.error());
    if (v) {
      const auto id = readable_id(*v);
      // The one error that cannot echo the id is the one about the id.
      if (r.error().message != "invalid 'id': expected a string or a number")
        FUZZ_CHECK(r.error().id == id, "error %s does not echo the id", text_of(r).c_str());
    }
    if (r.error().code == ErrorCode::invalid_json) FUZZ_CHECK(!v || !v->is_object(), "invalid_json on an object");
    return;
  }
  if (v) FUZZ_CHECK(r->id == readable_id(*v), "the request's id is not the message's");
  if (r->id) FUZZ_CHECK(valid_id(*r->id), "request id is not a string or finite number");
  if (const auto* s = std::get_if<protocol::SubscribeRequest>(&r->body)) {
    check_filters(*s, opts);
    if (v) {
      for (bool nested : {true, false}) {
        const json::value moved(move_filters(v->get_object(), nested));
        const Result again = protocol::parse_request_value(moved, opts);
        FUZZ_CHECK(again && same_request(*r, *again),
                   "filters moved %s parse differently: %s (moved: %s)",
                   nested ? "under 'filters'" : "to the top", text_of(again).c_str(),
                   json::serialize(moved).c_str());
      }
    }
  } else if (const auto* b = std::get_if<protocol::BatchRequest>(&r->body)) {
    FUZZ_CHECK(!batch_element, "a batch element parsed as a batch");
    FUZZ_CHECK(b->messages.size() <= opts.max_batch, "batch of %zu over max_batch %zu",
               b->messages.size(), opts.max_batch);
    for (const auto& m : b->messages) {
      FUZZ_CHECK(!is_batch_object(m), "a nested batch was accepted");
      const Result er = protocol::parse_request_value(m, opts);
      check_result(er, &m, opts, true);
    }
  } else if (const auto* a = std::get_if<protocol::AuthRequest>(&r->body)) {
    FUZZ_CHECK(!(a->malformed && !a->token.empty()), "malformed auth with a token");
  }
}

void run(std::string_view text, const std::optional<json::value>& v, const protocol::ParseOptions& opts,
         Result& out) {
  out = protocol::parse_request(text, opts);
  check_result(out, v ? &*v : nullptr, opts, false);
  // Text or parsed value: the same answer.
  if (v) {
    const Result from_value = protocol::parse_request_value(*v, opts);
    FUZZ_CHECK(same_result(out, from_value), "parse_request says %s, parse_request_value %s",
               text_of(out).c_str(), text_of(from_value).c_str());
  } else {
    FUZZ_CHECK(!out && out.error().code == ErrorCode::invalid_json, "unparsable JSON gave %s",
               text_of(out).c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<json::value> v = parse_json(text);

  Result def = protocol::ProtocolError{};
  Result small = protocol::ProtocolError{};
  run(text, v, default_options(), def);
  run(text, v, small_options(), small);

  // is_batch_frame: exactly the JSON objects whose type is "batch".
  const bool batch_frame = protocol::is_batch_frame(text);
  FUZZ_CHECK(batch_frame == (v && is_batch_object(*v)), "is_batch_frame says %d", batch_frame);
  if (def && std::holds_alternative<protocol::BatchRequest>(def->body)) FUZZ_CHECK(batch_frame, "batch not seen by is_batch_frame");

  // Small limits are only stricter; what they accept the defaults accept as the same request
  // (but for a system subscription's default frequency, which the options set).
  if (small) {
    FUZZ_CHECK(def, "accepted with small limits, refused with the defaults: %s", text_of(def).c_str());
    const auto* s = std::get_if<protocol::SubscribeRequest>(&small->body);
    if (s && s->channel == Channel::system) {
      const auto& d = std::get<protocol::SubscribeRequest>(def->body);
      auto f = s->filters;
      if (f.frequency == small_options().system_default_frequency) f.frequency = d.filters.frequency;
      FUZZ_CHECK(f == d.filters, "system filters differ between the options");
    } else {
      FUZZ_CHECK(same_request(*small, *def), "small and default limits parse differently");
    }
  }
  return 0;
}
