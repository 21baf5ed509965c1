// Typed client -> server messages, as produced by protocol/parse. Pure data, no IO.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/enums.hpp"
#include "protocol/errors.hpp"

namespace valtronics::protocol {

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
struct BatchRequest {
  // Raw messages, parsed one by one when executed so each gets its own reply (or error).
  std::vector<boost::json::value> messages;
};

using RequestBody =
    std::variant<AuthRequest, SubscribeRequest, UnsubscribeRequest, PingRequest, BatchRequest>;

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
