// The values the client hands to the application: a server message, a request's outcome, and
// the typed replies of subscribe, unsubscribe and ping.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace valtronics::client {

// One server message as received.
struct Message {
  std::string type;          // "telemetry_update", "alert", "subscribed", "error", ...
  boost::json::object body;  // the parsed message
  // The message as the server sent it (for --json output): the frame, or its element's text
  // when the frame was a coalesced array.
  std::string text;
};

// The outcome of a request: the server's reply, or why there is none.
struct Reply {
  boost::json::object message;  // the reply (subscribed, unsubscribed, pong or error), if any
  // "" on success; otherwise the server's error code ("forbidden", "invalid_filter", ...) or the
  // client's: "timeout" (no reply within Options::request_timeout), "closed" (Client::close or a
  // fatal error before the reply).
  std::string error;
  std::string error_message;
  bool ok() const { return error.empty(); }
};

// Thrown by futures of failed requests, and by connect()/finished() on a fatal error.
class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  // A server error code, "timeout", "closed", or for fatal errors "auth_failed" (the token was
  // refused: auth_response success false, close 4001 or 4029) and "gave_up" (max_attempts).
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

struct AuthInfo {
  std::string user, role, expires_at;
};

struct Subscribed {
  std::string channel;
  boost::json::object filters;     // normalized by the server
  std::optional<bool> recovered;   // replays (since_alert_id) only
};

struct Unsubscribed {
  std::string channel;
  std::int64_t removed = 0;
};

// A subscription that left the restore set without the application asking: the server removed
// it after a token refresh whose claims no longer cover it (an `error` `forbidden` without `id`
// naming it, docs/protocol.md "Token refresh"), or refused it for good when it was restored
// after a reconnect.
struct SubscriptionRemoved {
  std::string channel;
  std::optional<std::int64_t> device_id;  // nullopt: the every-device subscription (and system)
  std::string reason;   // "token_refresh" or "restore"
  std::string error;    // the server's code ("forbidden", ...)
  std::string message;  // the server's text
};

struct Pong {
  std::string server_time;
  std::chrono::milliseconds round_trip{0};
};

}  // namespace valtronics::client
