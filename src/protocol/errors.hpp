// The one catalogue of error codes (the `error` field of `error` and `auth_response` messages)
// and WebSocket close codes. docs/protocol.md lists the same entries; a unit test checks that
// every code here appears there.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace valtronics::protocol {

enum class ErrorCode {
  invalid_json,          // frame is not a JSON object
  invalid_message,       // a field is missing or has the wrong type
  unknown_type,          // `type` names no client message
  unknown_channel,       // `channel` is not telemetry/alerts/devices/system
  unknown_filter,        // a key the channel does not know (top level or under `filters`)
  invalid_filter,        // a known filter key with a wrong type or value (bad interval, ...)
  channel_not_allowed,   // channel other than the one of a per-channel endpoint (/ws/alerts, ...)
  not_authenticated,     // anything but auth/ping before a successful auth
  missing_token,         // auth without token
  invalid_token,         // bad signature, malformed, wrong alg, unknown role, ...
  token_expired,         // exp in the past (beyond leeway)
  token_not_yet_valid,   // nbf in the future (beyond leeway)
  forbidden,             // claims do not cover the channel or the device
  rate_limited,          // over messages_per_second: message dropped
  batch_too_large,       // batch with more than max_batch messages
  nested_batch,          // batch inside a batch
  too_many_subscriptions,// over max_subscriptions for this connection
  too_many_connections,  // auth_response error when the user is at max_connections_per_user
  internal_error,        // a bug: reported, connection kept
};

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;         // wire name, e.g. "invalid_filter"
  std::string_view description;  // one line for docs and default messages
};

std::span<const ErrorInfo> error_catalogue();
std::string_view to_string(ErrorCode code);
std::string_view describe(ErrorCode code);

// Close codes. 1xxx are RFC 6455's; 4xxx are ours (the 4000-4999 application range).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;        // server shutting down
inline constexpr std::uint16_t unsupported_data = 1003;  // a binary frame: the protocol is JSON text
inline constexpr std::uint16_t too_big = 1009;           // frame over max_message_bytes / max_batch_bytes
inline constexpr std::uint16_t auth_failed = 4001;       // failed auth or none within auth_timeout
inline constexpr std::uint16_t token_expired = 4003;     // token expired without refresh
inline constexpr std::uint16_t rate_limit_abuse = 4008;  // still flooding 5 s after being rate limited
inline constexpr std::uint16_t slow_consumer = 4009;     // alert/status could not be queued; write stalled
inline constexpr std::uint16_t idle_timeout = 4010;      // no answer to the server's keepalive ping
inline constexpr std::uint16_t too_many_connections = 4029;  // over max_connections_per_user
}  // namespace close_code

struct CloseInfo {
  std::uint16_t code;
  std::string_view name;
  std::string_view description;
};
std::span<const CloseInfo> close_catalogue();

}  // namespace valtronics::protocol
