// Logging conventions (docs/operations.md, "Logs"). Every line about a connection carries
// `conn=N` (one id per TCP connection, kept when it becomes a WebSocket), every line about an
// HTTP request `req=N.M` (the connection's M-th request), so that grepping one id gives a
// connection's whole story. Secrets never reach a line: tokens are never formatted, and
// request targets are logged through loggable_target().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class formatter;
}

namespace valtronics::util {

// A fresh connection id (process-wide, from 1).
std::uint64_t next_connection_id();

// `target` (path and query) with the value of every query parameter that may hold a secret
// (token, access_token, jwt, secret, password, key, api_key, auth, authorization, ...)
// replaced by "***", and control characters escaped, so a line can neither leak a secret nor
// be forged by a crafted URL.
std::string loggable_target(std::string_view target);

// `--log-format json`: one JSON object per line, {"time","level","msg"} plus "conn" and "req"
// when the message carries conn=/req= (and "logger" for a named logger).
std::unique_ptr<spdlog::formatter> json_formatter();

// Sets the default logger's format: "text" (the terminal's, with colour when it is one) or
// "json". Returns false for any other name.
bool set_log_format(std::string_view format);

}  // namespace valtronics::util
