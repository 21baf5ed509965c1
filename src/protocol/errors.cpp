// The catalogue behind protocol/errors.hpp: wire name and one-line description of every error code
// and close code. Tables are ordered like the enum so lookups are an index, and the unit test
// checks that order so a new enum value cannot be forgotten here.
#include "protocol/errors.hpp"

#include <array>

namespace valtronics::protocol {

namespace {

constexpr std::array kErrors{
    ErrorInfo{ErrorCode::invalid_json, "invalid_json", "The frame is not a JSON object."},
    ErrorInfo{ErrorCode::invalid_message, "invalid_message",
              "A required field is missing or a field has the wrong type."},
    ErrorInfo{ErrorCode::unknown_type, "unknown_type",
              "The message type is not one a client may send."},
    ErrorInfo{ErrorCode::unknown_channel, "unknown_channel",
              "The channel is not one of telemetry, alerts, devices, system."},
    ErrorInfo{ErrorCode::unknown_filter, "unknown_filter",
              "A subscribe key (top level or under filters) is not a filter of that channel."},
    ErrorInfo{ErrorCode::invalid_filter, "invalid_filter",
              "A filter has the wrong type or value, or differs between top level and filters."},
    ErrorInfo{ErrorCode::channel_not_allowed, "channel_not_allowed",
              "This endpoint serves one channel only; use /ws for the others."},
    ErrorInfo{ErrorCode::not_authenticated, "not_authenticated",
              "Only auth and ping are accepted before a successful auth."},
    ErrorInfo{ErrorCode::missing_token, "missing_token", "The auth message carries no token."},
    ErrorInfo{
        ErrorCode::invalid_token, "invalid_token",
        "The token is malformed, badly signed, uses another algorithm or has invalid claims."},
    ErrorInfo{ErrorCode::token_expired, "token_expired", "The token's exp is in the past."},
    ErrorInfo{ErrorCode::token_not_yet_valid, "token_not_yet_valid",
              "The token's nbf is in the future."},
    ErrorInfo{ErrorCode::forbidden, "forbidden",
              "The token does not cover this channel or device, or may not subscribe."},
    ErrorInfo{ErrorCode::rate_limited, "rate_limited",
              "Over the per-connection message rate: the message was dropped."},
    ErrorInfo{ErrorCode::batch_too_large, "batch_too_large",
              "The batch holds more messages than allowed; none was executed."},
    ErrorInfo{ErrorCode::nested_batch, "nested_batch",
              "A batch may not contain a batch; none of its messages was executed."},
    ErrorInfo{ErrorCode::too_many_subscriptions, "too_many_subscriptions",
              "The connection already holds the maximum number of subscriptions."},
    ErrorInfo{ErrorCode::too_many_connections, "too_many_connections",
              "The user already has max_connections_per_user open connections (then close 4029)."},
    ErrorInfo{ErrorCode::internal_error, "internal_error",
              "The server failed to handle the message; the connection stays open."},
};

constexpr bool in_enum_order() {
  for (std::size_t i = 0; i < kErrors.size(); ++i) {
    if (static_cast<std::size_t>(kErrors[i].code) != i) return false;
  }
  return true;
}
static_assert(in_enum_order(), "kErrors must follow the order of ErrorCode");
static_assert(kErrors.back().code == ErrorCode::internal_error,
              "a new ErrorCode needs an entry in kErrors");

constexpr std::array kCloses{
    CloseInfo{close_code::normal, "normal", "Normal closure."},
    CloseInfo{close_code::going_away, "going_away", "The server is shutting down."},
    CloseInfo{close_code::unsupported_data, "unsupported_data",
              "A binary frame: every message is JSON in a text frame."},
    CloseInfo{close_code::too_big, "too_big",
              "A frame exceeded max_message_bytes (or max_batch_bytes for a batch)."},
    CloseInfo{close_code::auth_failed, "auth_failed",
              "Authentication failed or did not happen within auth_timeout."},
    CloseInfo{close_code::token_expired, "token_expired",
              "The token expired and was not refreshed."},
    CloseInfo{close_code::rate_limit_abuse, "rate_limit_abuse",
              "The client kept exceeding the message rate, or the control frame (ping/pong) rate, "
              "for flood_close_after after being rate limited."},
    CloseInfo{close_code::slow_consumer, "slow_consumer",
              "An alert or status change could not be queued for a slow client, or the client "
              "read nothing for write_timeout; reconnect."},
    CloseInfo{close_code::idle_timeout, "idle_timeout",
              "The client sent nothing, not even the pong to the server's ping, for twice "
              "idle_timeout."},
    CloseInfo{close_code::too_many_connections, "too_many_connections",
              "The user already has max_connections_per_user open connections."},
};

}  // namespace

std::span<const ErrorInfo> error_catalogue() { return kErrors; }

std::string_view to_string(ErrorCode code) {
  const auto i = static_cast<std::size_t>(code);
  return i < kErrors.size() ? kErrors[i].name : std::string_view{"internal_error"};
}

std::string_view describe(ErrorCode code) {
  const auto i = static_cast<std::size_t>(code);
  return i < kErrors.size() ? kErrors[i].description : kErrors.back().description;
}

std::span<const CloseInfo> close_catalogue() { return kCloses; }

}  // namespace valtronics::protocol
