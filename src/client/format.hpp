// Human-readable one-line renderings of server messages, for `valtronics listen` and logs:
//   12:00:01.234 telemetry device 1 temperature=21.5°C humidity=40%
//   12:00:02.000 alert #42 critical device 3 High Temperature Alert: temperature 41 °C exceeds ... [active]
//   12:00:03.000 device 3 online -> offline (Connection lost)
//   12:00:04.000 system cpu_usage=12.5% memory_usage=40.1% active_connections=3
// The time is the event's own timestamp (UTC, HH:MM:SS.mmm) when it has one, else `fallback_time`.
// Pure, unit-tested; docs/cli.md shows every form.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <string>
#include <string_view>

namespace valtronics::client {

// One line, no trailing newline. Unknown message types are shown as "<type> <json>".
std::string format_line(const boost::json::object& msg, std::string_view fallback_time);

// "HH:MM:SS.mmm" of `t` in UTC.
std::string clock_time(std::chrono::system_clock::time_point t);

// "YYYY-MM-DDTHH:MM:SS.mmmZ" of `t` (the protocol's timestamp form).
std::string iso8601(std::chrono::system_clock::time_point t);

// A JSON number or value as a short text: 21.5 not 2.15E1, strings without quotes.
std::string value_text(const boost::json::value& v);

}  // namespace valtronics::client
