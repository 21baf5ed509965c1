// Time helpers shared by every layer: the wire format of timestamps (ISO-8601 UTC ending in `Z`)
// and of durations in configuration and filters ("500ms", "1s", "30s", "5m", "1h", "7d").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace valtronics::util {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

// Formats `t` as "YYYY-MM-DDTHH:MM:SS.mmmZ" (milliseconds always present, UTC).
std::string iso8601(TimePoint t);

// Parses an ISO-8601 timestamp: date 'T' time, optional fraction, and `Z` or a `+HH:MM`/`-HH:MM`
// offset; a timestamp without zone is taken as UTC (the spec's Python client sends that).
// Returns nullopt for anything else.
std::optional<TimePoint> parse_iso8601(std::string_view text);

// Parses "<positive integer><unit>" with unit ms, s, m, h or d. Returns nullopt on anything else
// (no unit, zero, negative, fraction, overflow).
std::optional<Millis> parse_duration(std::string_view text);

// Formats a duration in the largest unit that divides it exactly: 30000ms -> "30s", 1500 -> "1500ms".
std::string format_duration(Millis d);

}  // namespace valtronics::util
