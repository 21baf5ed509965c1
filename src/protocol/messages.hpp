// Typed client -> server messages, as produced by protocol/parse. Pure data, no IO.
#pragma once

#include <algorithm>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "model/enums.hpp"
#include "protocol/errors.hpp"

namespace valtronics::protocol {

// A number for every metric and/or per metric, as deadband, deadband_pct and crossing take it:
// `0.5` or `{"temperature": 0.5, "humidity": 2}` (issue 15).
struct PerMetric {
  std::optional<double> all;
  std::vector<std::pair<std::string, double>> by_metric;  // sorted by name, unique
  bool empty() const { return !all && by_metric.empty(); }
  // The metric's own number, else the one for every metric; nullptr when neither.
  const double* find(std::string_view metric) const {
    auto it = std::lower_bound(by_metric.begin(), by_metric.end(), metric,
                               [](const auto& e, std::string_view m) { return e.first < m; });
    if (it != by_metric.end() && it->first == metric) return &it->second;
    return all ? &*all : nullptr;
  }
  bool operator==(const PerMetric&) const = default;
};
// Which crossings of a `crossing` level a subscription receives.
enum class Direction : std::uint8_t { both, up, down };
// What a windowed telemetry subscription (`frequency` with `aggregate`) sends per window.
enum class Aggregate : std::uint8_t { avg, min, max, count };
std::string_view to_string(Direction d);
std::string_view to_string(Aggregate a);

// Normalized filters of one subscribe request. Lists are sorted (enums by value) and
// de-duplicated; an empty list means "no restriction" (model::empty_or_contains). Only the keys
// of the request's channel are ever set.
struct Filters {
  std::vector<std::int64_t> device_ids;            // all channels but system; empty = every device
  std::vector<std::string> metrics;                // telemetry, system
  std::vector<model::Severity> severities;         // alerts
  std::vector<model::AlertType> alert_types;       // alerts
  std::vector<model::DeviceStatus> status_types;   // devices
  // telemetry: 0 = real-time (every update); otherwise at most one update per device per interval.
  // system: the interval between updates (default and minimum from configuration).
  std::chrono::milliseconds frequency{0};
  // Options (issue 3), accepted wherever filters are:
  std::optional<std::int64_t> since_alert_id;  // alerts: replay stored alerts after this id
  std::optional<bool> snapshot;  // telemetry (default false), devices (default true): current state first
  // Telemetry extensions (issue 15; docs/protocol.md, "Extensions"); unset, the spec's behaviour.
  // Real-time only: a metric goes out when it moved by more than `deadband` (absolute) or
  // `deadband_pct` (percent of the last value sent; with both, the larger) since the last value
  // sent, the first value always; `max_silence`: a value held back goes out after that long.
  PerMetric deadband, deadband_pct;
  std::optional<std::chrono::milliseconds> max_silence;
  // Real-time only: a metric goes out only when its value crosses this level (from below to at
  // or above it: up; back: down), in `direction` (default both).
  PerMetric crossing;
  std::optional<Direction> direction;
  // A device (or each metric of `metrics`) silent this long: one telemetry_stale message.
  std::optional<std::chrono::milliseconds> stale_after;
  // With a `frequency`: each window's aggregate of the readings instead of the latest value.
  std::optional<Aggregate> aggregate;
  // Alerts extension (issue 15): each alert carries a `delivery_id` the client acknowledges;
  // unacknowledged ones are sent again after alerts.ack_timeout (at least once).
  std::optional<bool> ack;

  // Whether values pass through deadband or crossing gates (session/value_gates).
  bool gates_values() const {
    return !deadband.empty() || !deadband_pct.empty() || !crossing.empty();
  }

  bool operator==(const Filters&) const = default;
};

struct AuthRequest {
  std::string token;       // may be empty: then the reply is missing_token
  bool malformed = false;  // `token` present but not a string: the reply is invalid_token
};
struct SubscribeRequest {
  model::Channel channel;
  Filters filters;
};
struct UnsubscribeRequest {
  model::Channel channel;
  std::optional<std::int64_t> device_id;  // none: every subscription of the channel
};
struct PingRequest {
  std::optional<boost::json::value> timestamp;  // echoed verbatim in `pong`
};
// {"type":"ack","delivery_id":N or [N, ...]} (issue 15): alerts received, by delivery id.
struct AckRequest {
  std::vector<std::uint64_t> delivery_ids;  // at least one
};
// {"type":"hello","features":["coalesce", ...]} (issue 15): what the client can take beyond
// the spec. Unknown features are left out of the reply, not refused: a newer client works
// with an older server.
struct HelloRequest {
  std::vector<std::string> features;
};
struct BatchRequest {
  // Raw messages, parsed one by one when executed so each gets its own reply (or error).
  std::vector<boost::json::value> messages;
};

using RequestBody = std::variant<AuthRequest, SubscribeRequest, UnsubscribeRequest, PingRequest,
                                 BatchRequest, AckRequest, HelloRequest>;

struct Request {
  std::optional<boost::json::value> id;  // echoed in every direct reply
  RequestBody body;
};

// A request that could not be parsed: the reply is an `error` message with this code.
struct ProtocolError {
  ErrorCode code;
  std::string message;
  std::optional<boost::json::value> id;  // the request's id, when it could be read
};

}  // namespace valtronics::protocol
