// Client frame -> typed Request, or a catalogued ProtocolError whose message names the offending
// key. Owns the subscribe filter rules per channel (which keys, which types, which values) and
// their normalization (sorted, de-duplicated lists; frequencies as milliseconds). Never throws:
// every frame a client can send ends in a Request or a ProtocolError.
#include "protocol/parse.hpp"
#include "config/limits.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <bitset>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>

#include "util/time.hpp"

namespace valtronics::protocol {

namespace {

namespace json = boost::json;
using Result = boost::system::result<Request, ProtocolError>;
using Millis = std::chrono::milliseconds;
using model::Channel;

// An error before the request's id is attached.
struct Failure {
  ErrorCode code;
  std::string message;
};

// 'text', cut at a UTF-8 character boundary so the reply stays valid UTF-8.
std::string quote(std::string_view text) { return util::quoted_echo(text, limits::kMaxEchoChars); }

// "telemetry, alerts, devices or system": every name of E, the last one after "or".
template <class E>
std::string names_or() {
  const auto& names = model::EnumNames<E>::names;
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.append(i + 1 == names.size() ? " or " : ", ");
    out.append(names[i]);
  }
  return out;
}

std::string join(std::span<const std::string> items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out.append(", ");
    out.append(s);
  }
  return out;
}

bool valid_metric_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

template <typename T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

std::optional<json::value> parse_json(std::string_view text) {
  json::parse_options po;
  po.max_depth = limits::kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, json::storage_ptr{}, po);
  if (ec) return std::nullopt;
  return v;
}

// A strictly positive int64. Doubles are refused even when integral (1.0): ids are integers on the
// wire and accepting 1.0 would also accept 1e300.
std::optional<std::int64_t> positive_int(const json::value& v) {
  if (v.is_int64() && v.get_int64() > 0) return v.get_int64();
  return std::nullopt;  // uint64 only happens above INT64_MAX
}

// ---- subscribe filters ----------------------------------------------------------------------

// since_alert_id and snapshot are options rather than filters, but they may stand wherever
// filters stand (top level or under `filters`), so they are read the same way.
// From deadband on: the extensions of issue 15 (docs/protocol.md, "Extensions"); ack is the
// alerts channel's, the others the telemetry channel's.
enum class Key : std::size_t {
  device_id, metrics, frequency, severity, alert_type, status_types, since_alert_id, snapshot,
  deadband, deadband_pct, max_silence, crossing, direction, stale_after, aggregate, ack
};
constexpr std::size_t kKeyCount = 16;
using KeySet = std::bitset<kKeyCount>;

std::optional<Key> key_from_string(std::string_view s) {
  if (s == "device_id") return Key::device_id;
  if (s == "metrics") return Key::metrics;
  if (s == "frequency") return Key::frequency;
  if (s == "severity") return Key::severity;
  if (s == "alert_type") return Key::alert_type;
  if (s == "status_types") return Key::status_types;
  if (s == "since_alert_id") return Key::since_alert_id;
  if (s == "snapshot") return Key::snapshot;
  if (s == "deadband") return Key::deadband;
  if (s == "deadband_pct") return Key::deadband_pct;
  if (s == "max_silence") return Key::max_silence;
  if (s == "crossing") return Key::crossing;
  if (s == "direction") return Key::direction;
  if (s == "stale_after") return Key::stale_after;
  if (s == "aggregate") return Key::aggregate;
  if (s == "ack") return Key::ack;
  return std::nullopt;
}

bool channel_has(Channel c, Key k) {
  switch (c) {
    case Channel::telemetry:
      return k == Key::device_id || k == Key::metrics || k == Key::frequency ||
             k == Key::snapshot || (k >= Key::deadband && k <= Key::aggregate);
    case Channel::alerts:
      return k == Key::device_id || k == Key::severity || k == Key::alert_type ||
             k == Key::since_alert_id || k == Key::ack;
    case Channel::devices:
      return k == Key::device_id || k == Key::status_types || k == Key::snapshot;
    case Channel::system: return k == Key::metrics || k == Key::frequency;
  }
  return false;
}

// Keys of a subscribe message that are not filters.
bool is_envelope_key(std::string_view k) {
  return k == "type" || k == "id" || k == "channel" || k == "filters";
}

std::optional<Failure> read_device_ids(const json::value& v, std::vector<std::int64_t>& out) {
  const Failure bad{
      ErrorCode::invalid_filter,
      "invalid filter 'device_id': expected a positive integer or a non-empty list of "
      "positive integers"};
  if (auto id = positive_int(v)) {
    out = {*id};
    return std::nullopt;
  }
  if (!v.is_array() || v.get_array().empty()) return bad;
  out.clear();
  for (const auto& e : v.get_array()) {
    auto id = positive_int(e);
    if (!id) return bad;
    out.push_back(*id);
  }
  sort_unique(out);
  return std::nullopt;
}

std::optional<Failure> read_metrics(const json::value& v, Channel channel, const ParseOptions& opts,
                                    std::vector<std::string>& out) {
  if (!v.is_array() || v.get_array().empty()) {
    return Failure{ErrorCode::invalid_filter,
                   "invalid filter 'metrics': expected a non-empty list of metric names"};
  }
  out.clear();
  for (const auto& e : v.get_array()) {
    if (!e.is_string()) {
      return Failure{ErrorCode::invalid_filter,
                     "invalid filter 'metrics': expected a non-empty list of metric names"};
    }
    const std::string_view name = e.get_string();
    if (channel == Channel::system) {
      if (std::find(opts.system_metrics.begin(), opts.system_metrics.end(), name) ==
          opts.system_metrics.end()) {
        return Failure{ErrorCode::invalid_filter,
                       "invalid filter 'metrics': unknown system metric " + quote(name) +
                           " (known: " + join(opts.system_metrics) + ")"};
      }
    } else if (!valid_metric_name(name)) {
      return Failure{ErrorCode::invalid_filter, "invalid filter 'metrics': " + quote(name) +
                                                    " is not a metric name ([a-z0-9_.-]{1,64})"};
    }
    out.emplace_back(name);
  }
  sort_unique(out);
  return std::nullopt;
}

std::optional<Failure> read_frequency(const json::value& v, Channel channel,
                                      const ParseOptions& opts, Millis& out) {
  if (channel == Channel::telemetry) {
    const Failure bad{ErrorCode::invalid_filter,
                      "invalid filter 'frequency': expected \"real-time\" or a duration like "
                      "\"500ms\", \"1s\", \"5m\""};
    if (!v.is_string()) return bad;
    const std::string_view s = v.get_string();
    if (s == "real-time") {
      out = Millis{0};
      return std::nullopt;
    }
    auto d = util::parse_duration(s);
    if (!d) return bad;
    if (*d < limits::kTelemetryMinFrequency) {
      return Failure{ErrorCode::invalid_filter, "invalid filter 'frequency': " + quote(s) +
                                                    " is below the minimum of " +
                                                    util::format_duration(limits::kTelemetryMinFrequency)};
    }
    out = *d;
    return std::nullopt;
  }
  // system: an interval only; "real-time" would mean re-reading /proc continuously.
  const Failure bad{ErrorCode::invalid_filter,
                    "invalid filter 'frequency': expected a duration like \"30s\" or \"5m\" (at "
                    "least " +
                        util::format_duration(opts.system_min_frequency) + ")"};
  if (!v.is_string()) return bad;
  auto d = util::parse_duration(v.get_string());
  if (!d) return bad;
  if (*d < opts.system_min_frequency) {
    return Failure{ErrorCode::invalid_filter,
                   "invalid filter 'frequency': " + quote(v.get_string()) +
                       " is below the minimum of " +
                       util::format_duration(opts.system_min_frequency)};
  }
  out = *d;
  return std::nullopt;
}

// The shortest stale_after: staleness is about devices going quiet, not about jitter.
constexpr Millis kMinStaleAfter{1000};
// The longest max_silence or stale_after (a week): keeps deadlines far from overflow.
constexpr Millis kMaxWatchDuration{7LL * 24 * 3600 * 1000};

std::optional<Failure> read_bounded_duration(const json::value& v, std::string_view key,
                                             Millis min, std::optional<Millis>& out) {
  const Failure bad{ErrorCode::invalid_filter,
                    "invalid filter '" + std::string(key) + "': expected a duration from " +
                        util::format_duration(min) + " to " +
                        util::format_duration(kMaxWatchDuration) + ", like \"30s\" or \"2m\""};
  if (!v.is_string()) return bad;
  auto d = util::parse_duration(v.get_string());
  if (!d || *d < min || *d > kMaxWatchDuration) return bad;
  out = *d;
  return std::nullopt;
}

// A number for every metric, or an object {metric: number} where "*" stands for every other
// metric (deadband, deadband_pct: >= 0; crossing: any level). Finite numbers only.
std::optional<Failure> read_per_metric(const json::value& v, std::string_view key, PerMetric& out,
                                       bool any_sign = false) {
  const Failure bad{ErrorCode::invalid_filter,
                    "invalid filter '" + std::string(key) + "': expected a " +
                        (any_sign ? "number" : "number >= 0") +
                        ", or an object of them by metric name (\"*\": every other metric)"};
  auto number = [&](const json::value& n) -> std::optional<double> {
    if (!n.is_number()) return std::nullopt;
    const double d = n.to_number<double>();
    if (!std::isfinite(d) || (!any_sign && d < 0)) return std::nullopt;
    return d;
  };
  out = PerMetric{};
  if (!v.is_object()) {
    out.all = number(v);
    if (!out.all) return bad;
    return std::nullopt;
  }
  if (v.get_object().empty()) return bad;
  for (const auto& kv : v.get_object()) {
    const std::string_view name = kv.key();
    auto d = number(kv.value());
    if (!d) return bad;
    if (name == "*") {
      out.all = d;
      continue;
    }
    if (!valid_metric_name(name)) {
      return Failure{ErrorCode::invalid_filter, "invalid filter '" + std::string(key) + "': " +
                                                    quote(name) +
                                                    " is not a metric name ([a-z0-9_.-]{1,64})"};
    }
    out.by_metric.emplace_back(std::string(name), *d);
  }
  std::sort(out.by_metric.begin(), out.by_metric.end());
  return std::nullopt;
}

// The extensions' rules across keys, once both places (top level, `filters`) are merged.
std::optional<Failure> check_extensions(const Filters& f) {
  const bool realtime = f.frequency.count() == 0;
  if (!realtime && (!f.deadband.empty() || !f.deadband_pct.empty() || !f.crossing.empty())) {
    return Failure{ErrorCode::invalid_filter,
                   "invalid filter: 'deadband', 'deadband_pct' and 'crossing' apply to real-time "
                   "subscriptions (with a 'frequency', use 'aggregate')"};
  }
  if (f.max_silence && f.deadband.empty() && f.deadband_pct.empty()) {
    return Failure{ErrorCode::invalid_filter,
                   "invalid filter 'max_silence': it needs 'deadband' or 'deadband_pct'"};
  }
  if (f.direction && f.crossing.empty()) {
    return Failure{ErrorCode::invalid_filter, "invalid filter 'direction': it needs 'crossing'"};
  }
  if (f.aggregate && realtime) {
    return Failure{ErrorCode::invalid_filter,
                   "invalid filter 'aggregate': it needs a 'frequency' (the window), like \"10s\""};
  }
  return std::nullopt;
}

// A value of the closed set E (model/enums.hpp), given as one name or a non-empty list of names.
template <class E>
std::optional<Failure> read_enum_list(const json::value& v, std::string_view key,
                                      std::vector<E>& out) {
  const Failure bad{ErrorCode::invalid_filter, "invalid filter '" + std::string(key) +
                                                   "': expected one of " + model::names_list<E>() +
                                                   ", or a non-empty list of them"};
  auto check = [&](const json::value& e) -> std::optional<Failure> {
    if (!e.is_string()) return bad;
    const std::string_view s = e.get_string();
    const auto value = model::from_string<E>(s);
    if (!value) {
      return Failure{ErrorCode::invalid_filter, "invalid filter '" + std::string(key) +
                                                    "': unknown value " + quote(s) + " (expected " +
                                                    model::names_list<E>() + ")"};
    }
    out.push_back(*value);
    return std::nullopt;
  };
  out.clear();
  if (v.is_array()) {
    if (v.get_array().empty()) return bad;
    for (const auto& e : v.get_array()) {
      if (auto f = check(e)) return f;
    }
  } else if (auto f = check(v)) {
    return f;
  }
  sort_unique(out);
  return std::nullopt;
}

std::optional<Failure> read_filter(Key k, const json::value& v, Channel channel,
                                   const ParseOptions& opts, Filters& f) {
  switch (k) {
    case Key::device_id: return read_device_ids(v, f.device_ids);
    case Key::metrics: return read_metrics(v, channel, opts, f.metrics);
    case Key::frequency: return read_frequency(v, channel, opts, f.frequency);
    case Key::severity: return read_enum_list(v, "severity", f.severities);
    case Key::alert_type: return read_enum_list(v, "alert_type", f.alert_types);
    case Key::status_types: return read_enum_list(v, "status_types", f.status_types);
    case Key::since_alert_id:
      // 0 means "every stored alert"; ids start at 1.
      if (v.is_int64() && v.get_int64() >= 0) {
        f.since_alert_id = v.get_int64();
        return std::nullopt;
      }
      return Failure{ErrorCode::invalid_filter,
                     "invalid filter 'since_alert_id': expected an alert id (integer >= 0)"};
    case Key::snapshot:
      if (v.is_bool()) {
        f.snapshot = v.get_bool();
        return std::nullopt;
      }
      return Failure{ErrorCode::invalid_filter, "invalid filter 'snapshot': expected true or false"};
    case Key::deadband: return read_per_metric(v, "deadband", f.deadband);
    case Key::deadband_pct: return read_per_metric(v, "deadband_pct", f.deadband_pct);
    case Key::crossing: return read_per_metric(v, "crossing", f.crossing, true);
    case Key::max_silence:
      return read_bounded_duration(v, "max_silence", limits::kTelemetryMinFrequency, f.max_silence);
    case Key::stale_after:
      return read_bounded_duration(v, "stale_after", kMinStaleAfter, f.stale_after);
    case Key::direction: {
      const std::string_view d = v.is_string() ? std::string_view(v.get_string()) : "";
      if (d == "up") f.direction = Direction::up;
      else if (d == "down") f.direction = Direction::down;
      else if (d == "both") f.direction = Direction::both;
      else
        return Failure{ErrorCode::invalid_filter,
                       "invalid filter 'direction': expected \"up\", \"down\" or \"both\""};
      return std::nullopt;
    }
    case Key::ack:
      if (v.is_bool()) {
        f.ack = v.get_bool();
        return std::nullopt;
      }
      return Failure{ErrorCode::invalid_filter, "invalid filter 'ack': expected true or false"};
    case Key::aggregate: {
      const std::string_view a = v.is_string() ? std::string_view(v.get_string()) : "";
      if (a == "avg") f.aggregate = Aggregate::avg;
      else if (a == "min") f.aggregate = Aggregate::min;
      else if (a == "max") f.aggregate = Aggregate::max;
      else if (a == "count") f.aggregate = Aggregate::count;
      else
        return Failure{ErrorCode::invalid_filter,
                       "invalid filter 'aggregate': expected \"avg\", \"min\", \"max\" or "
                       "\"count\""};
      return std::nullopt;
    }
  }
  return Failure{ErrorCode::internal_error, "unhandled filter key"};
}

bool same_field(Key k, const Filters& a, const Filters& b) {
  switch (k) {
    case Key::device_id: return a.device_ids == b.device_ids;
    case Key::metrics: return a.metrics == b.metrics;
    case Key::frequency: return a.frequency == b.frequency;
    case Key::severity: return a.severities == b.severities;
    case Key::alert_type: return a.alert_types == b.alert_types;
    case Key::status_types: return a.status_types == b.status_types;
    case Key::since_alert_id: return a.since_alert_id == b.since_alert_id;
    case Key::snapshot: return a.snapshot == b.snapshot;
    case Key::deadband: return a.deadband == b.deadband;
    case Key::deadband_pct: return a.deadband_pct == b.deadband_pct;
    case Key::max_silence: return a.max_silence == b.max_silence;
    case Key::crossing: return a.crossing == b.crossing;
    case Key::direction: return a.direction == b.direction;
    case Key::stale_after: return a.stale_after == b.stale_after;
    case Key::aggregate: return a.aggregate == b.aggregate;
    case Key::ack: return a.ack == b.ack;
  }
  return false;
}

void copy_field(Key k, const Filters& from, Filters& to) {
  switch (k) {
    case Key::device_id: to.device_ids = from.device_ids; break;
    case Key::metrics: to.metrics = from.metrics; break;
    case Key::frequency: to.frequency = from.frequency; break;
    case Key::severity: to.severities = from.severities; break;
    case Key::alert_type: to.alert_types = from.alert_types; break;
    case Key::status_types: to.status_types = from.status_types; break;
    case Key::since_alert_id: to.since_alert_id = from.since_alert_id; break;
    case Key::snapshot: to.snapshot = from.snapshot; break;
    case Key::deadband: to.deadband = from.deadband; break;
    case Key::deadband_pct: to.deadband_pct = from.deadband_pct; break;
    case Key::max_silence: to.max_silence = from.max_silence; break;
    case Key::crossing: to.crossing = from.crossing; break;
    case Key::direction: to.direction = from.direction; break;
    case Key::stale_after: to.stale_after = from.stale_after; break;
    case Key::aggregate: to.aggregate = from.aggregate; break;
    case Key::ack: to.ack = from.ack; break;
  }
}

constexpr std::string_view key_name(Key k) {
  constexpr std::array<std::string_view, kKeyCount> names{
      "device_id", "metrics", "frequency", "severity", "alert_type", "status_types",
      "since_alert_id", "snapshot", "deadband", "deadband_pct", "max_silence", "crossing",
      "direction", "stale_after", "aggregate", "ack"};
  return names[static_cast<std::size_t>(k)];
}

// Reads the filter keys of one object (the message itself or its `filters`).
std::optional<Failure> read_filters(const json::object& o, bool top_level, Channel channel,
                                    const ParseOptions& opts, Filters& f, KeySet& seen) {
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    if (top_level && is_envelope_key(key)) continue;
    auto k = key_from_string(key);
    if (!k || !channel_has(channel, *k)) {
      return Failure{ErrorCode::unknown_filter, "unknown filter " + quote(key) + " for channel " +
                                                    std::string(model::to_string(channel))};
    }
    if (auto fail = read_filter(*k, kv.value(), channel, opts, f)) return fail;
    seen.set(static_cast<std::size_t>(*k));
  }
  return std::nullopt;
}

// ---- messages -------------------------------------------------------------------------------

std::optional<Failure> read_channel(const json::object& o, Channel& out) {
  const auto* v = o.if_contains("channel");
  if (!v) return Failure{ErrorCode::invalid_message, "missing 'channel'"};
  if (!v->is_string()) {
    return Failure{ErrorCode::invalid_message, "invalid 'channel': expected a string"};
  }
  auto c = model::from_string<Channel>(v->get_string());
  if (!c) {
    return Failure{ErrorCode::unknown_channel, "unknown channel " + quote(v->get_string()) +
                                                   " (expected " + names_or<Channel>() + ")"};
  }
  out = *c;
  return std::nullopt;
}

using BodyOrFailure = std::variant<RequestBody, Failure>;

BodyOrFailure parse_auth(const json::object& o) {
  AuthRequest r;
  if (const auto* t = o.if_contains("token"); t && !t->is_null()) {
    // Still an auth attempt: the client waits for auth_response, so it fails as one.
    if (!t->is_string()) r.malformed = true;
    else r.token = t->get_string();
  }
  return RequestBody{std::move(r)};
}

BodyOrFailure parse_subscribe(const json::object& o, const ParseOptions& opts) {
  SubscribeRequest r;
  if (auto f = read_channel(o, r.channel)) return *f;

  Filters top;
  KeySet top_seen;
  if (auto f = read_filters(o, true, r.channel, opts, top, top_seen)) return *f;

  Filters nested;
  KeySet nested_seen;
  if (const auto* fv = o.if_contains("filters"); fv && !fv->is_null()) {
    if (!fv->is_object()) {
      return Failure{ErrorCode::invalid_message, "invalid 'filters': expected an object"};
    }
    if (auto f = read_filters(fv->get_object(), false, r.channel, opts, nested, nested_seen)) {
      return *f;
    }
  }

  // Both places mean the same (the spec's JS client spreads, its Python client nests); compare
  // normalized values so `1` and `[1]`, or "1s" and "1000ms", are not reported as a conflict.
  r.filters = std::move(top);
  for (std::size_t i = 0; i < kKeyCount; ++i) {
    const auto k = static_cast<Key>(i);
    if (!nested_seen.test(i)) continue;
    if (top_seen.test(i)) {
      if (!same_field(k, r.filters, nested)) {
        return Failure{ErrorCode::invalid_filter,
                       "invalid filter '" + std::string(key_name(k)) +
                           "': different values at top level and under 'filters'"};
      }
    } else {
      copy_field(k, nested, r.filters);
    }
  }
  if (auto f = check_extensions(r.filters)) return *f;
  const bool frequency_given =
      (top_seen | nested_seen).test(static_cast<std::size_t>(Key::frequency));
  if (r.channel == Channel::system && !frequency_given) {
    r.filters.frequency = opts.system_default_frequency;
  }
  return RequestBody{std::move(r)};
}

BodyOrFailure parse_unsubscribe(const json::object& o) {
  UnsubscribeRequest r;
  if (auto f = read_channel(o, r.channel)) return *f;
  if (const auto* d = o.if_contains("device_id")) {
    auto id = positive_int(*d);
    if (!id) {
      return Failure{ErrorCode::invalid_filter,
                     "invalid filter 'device_id': expected a positive integer"};
    }
    r.device_id = *id;
  }
  return RequestBody{std::move(r)};
}

BodyOrFailure parse_ack(const json::object& o) {
  const Failure bad{ErrorCode::invalid_message,
                    "invalid 'delivery_id': expected a delivery id (integer >= 1) or a non-empty "
                    "list of them"};
  const auto* v = o.if_contains("delivery_id");
  if (!v) return Failure{ErrorCode::invalid_message, "missing 'delivery_id'"};
  AckRequest r;
  auto take = [&](const json::value& e) {
    if (e.is_int64() && e.get_int64() >= 1) r.delivery_ids.push_back(std::uint64_t(e.get_int64()));
    else if (e.is_uint64()) r.delivery_ids.push_back(e.get_uint64());
    else return false;
    return true;
  };
  if (v->is_array()) {
    if (v->get_array().empty() || v->get_array().size() > limits::kMaxAckIds) return bad;
    for (const auto& e : v->get_array())
      if (!take(e)) return bad;
  } else if (!take(*v)) {
    return bad;
  }
  return RequestBody{std::move(r)};
}

BodyOrFailure parse_hello(const json::object& o) {
  const Failure bad{ErrorCode::invalid_message,
                    "invalid 'features': expected a list of at most " +
                        std::to_string(limits::kMaxHelloFeatures) + " feature names of at most " +
                        std::to_string(limits::kMaxHelloFeatureBytes) + " characters"};
  HelloRequest r;
  const auto* v = o.if_contains("features");
  if (!v) return RequestBody{std::move(r)};  // a hello asking for nothing
  if (!v->is_array() || v->get_array().size() > limits::kMaxHelloFeatures) return bad;
  for (const auto& e : v->get_array()) {
    if (!e.is_string() || e.get_string().size() > limits::kMaxHelloFeatureBytes) return bad;
    r.features.emplace_back(e.get_string());
  }
  return RequestBody{std::move(r)};
}

BodyOrFailure parse_ping(const json::object& o) {
  PingRequest r;
  if (const auto* t = o.if_contains("timestamp")) r.timestamp = *t;
  return RequestBody{std::move(r)};
}

BodyOrFailure parse_batch(const json::object& o, const ParseOptions& opts) {
  const auto* m = o.if_contains("messages");
  if (!m) return Failure{ErrorCode::invalid_message, "missing 'messages'"};
  if (!m->is_array()) {
    return Failure{ErrorCode::invalid_message, "invalid 'messages': expected an array"};
  }
  const auto& arr = m->get_array();
  if (arr.size() > opts.max_batch) {
    return Failure{ErrorCode::batch_too_large, "batch of " + std::to_string(arr.size()) +
                                                   " messages exceeds the limit of " +
                                                   std::to_string(opts.max_batch)};
  }
  BatchRequest r;
  r.messages.reserve(arr.size());
  for (std::size_t i = 0; i < arr.size(); ++i) {
    const auto& e = arr[i];
    if (const auto* eo = e.if_object()) {
      const auto* t = eo->if_contains("type");
      if (t && t->is_string() && t->get_string() == "batch") {
        return Failure{ErrorCode::nested_batch, "a batch may not contain a batch (message " +
                                                    std::to_string(i) + "); nothing was executed"};
      }
    }
    r.messages.push_back(e);
  }
  return RequestBody{std::move(r)};
}

Result parse_object(const json::object& o, const ParseOptions& opts) {
  std::optional<json::value> id;
  if (const auto* iv = o.if_contains("id"); iv && !iv->is_null()) {
    // 1e400 parses as infinity, which has no JSON spelling and so could not be echoed.
    const bool finite = !iv->is_double() || std::isfinite(iv->get_double());
    if (!(iv->is_string() || iv->is_number()) || !finite) {
      return ProtocolError{ErrorCode::invalid_message,
                           "invalid 'id': expected a string or a number", std::nullopt};
    }
    id = *iv;
  }
  auto fail = [&](Failure f) { return ProtocolError{f.code, std::move(f.message), id}; };

  const auto* tv = o.if_contains("type");
  if (!tv) return fail({ErrorCode::invalid_message, "missing 'type'"});
  if (!tv->is_string())
    return fail({ErrorCode::invalid_message, "invalid 'type': expected a string"});
  const std::string_view type = tv->get_string();

  BodyOrFailure body = Failure{ErrorCode::unknown_type,
                               "unknown message type " + quote(type) +
                                   " (expected auth, subscribe, unsubscribe, ping, batch, ack or hello)"};
  if (type == "auth")
    body = parse_auth(o);
  else if (type == "subscribe")
    body = parse_subscribe(o, opts);
  else if (type == "unsubscribe")
    body = parse_unsubscribe(o);
  else if (type == "ping")
    body = parse_ping(o);
  else if (type == "batch")
    body = parse_batch(o, opts);
  else if (type == "ack")
    body = parse_ack(o);
  else if (type == "hello")
    body = parse_hello(o);

  if (auto* f = std::get_if<Failure>(&body)) return fail(std::move(*f));
  return Request{std::move(id), std::move(std::get<RequestBody>(body))};
}

// Exception texts are not sent: they describe the server, not the client's mistake.
ProtocolError internal() {
  return ProtocolError{ErrorCode::internal_error, "the server could not process the message",
                       std::nullopt};
}

}  // namespace

Result parse_request_value(const json::value& v, const ParseOptions& opts) {
  try {
    const auto* o = v.if_object();
    if (!o)
      return ProtocolError{ErrorCode::invalid_json, "message is not a JSON object", std::nullopt};
    return parse_object(*o, opts);
  } catch (...) {
    return internal();
  }
}

Result parse_request(std::string_view text, const ParseOptions& opts) {
  try {
    auto v = parse_json(text);
    if (!v) {
      return ProtocolError{ErrorCode::invalid_json, "message is not valid JSON", std::nullopt};
    }
    return parse_request_value(*v, opts);
  } catch (...) {
    return internal();
  }
}

bool is_batch_frame(std::string_view text) {
  try {
    auto v = parse_json(text);
    if (!v || !v->is_object()) return false;
    const auto* t = v->get_object().if_contains("type");
    return t && t->is_string() && t->get_string() == "batch";
  } catch (...) {
    return false;
  }
}

}  // namespace valtronics::protocol
