// Wire formats of time: ISO-8601 UTC timestamps and the short duration strings used by filters and
// configuration. Hand-rolled on <chrono> calendar types because the standard library of Debian 12
// (GCC 12) has no std::format/std::chrono::parse, and strptime/timegm depend on the locale and TZ.
#include "util/time.hpp"

#include <cstdint>
#include <cstdio>
#include <limits>

namespace valtronics::util {

namespace {

using namespace std::chrono;

// Reads exactly `n` ASCII digits at `pos`; advances `pos` on success.
bool read_digits(std::string_view s, std::size_t& pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += n;
  return true;
}

bool expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string iso8601(TimePoint t) {
  // floor (not duration_cast) so instants before the epoch still land in the right day/second.
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> tod{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<int>(tod.subseconds().count()));
  return buf;
}

std::optional<TimePoint> parse_iso8601(std::string_view s) {
  std::size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!read_digits(s, pos, 4, y) || !expect(s, pos, '-') || !read_digits(s, pos, 2, mo) ||
      !expect(s, pos, '-') || !read_digits(s, pos, 2, d) || !expect(s, pos, 'T') ||
      !read_digits(s, pos, 2, h) || !expect(s, pos, ':') || !read_digits(s, pos, 2, mi) ||
      !expect(s, pos, ':') || !read_digits(s, pos, 2, sec)) {
    return std::nullopt;
  }
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  // Leap second 60 is refused: system_clock cannot represent it and no client sends it.
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;

  nanoseconds frac{0};
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    const std::size_t start = pos;
    std::int64_t ns = 0;
    int kept = 0;
    while (pos < s.size() && is_digit(s[pos])) {
      // Digits beyond nanoseconds are validated but dropped: system_clock cannot hold them.
      if (kept < 9) {
        ns = ns * 10 + (s[pos] - '0');
        ++kept;
      }
      ++pos;
    }
    if (pos == start) return std::nullopt;
    for (; kept < 9; ++kept) ns *= 10;
    frac = nanoseconds{ns};
  }

  minutes offset{0};
  if (pos < s.size()) {
    const char z = s[pos];
    if (z == 'Z' || z == 'z') {
      ++pos;
    } else if (z == '+' || z == '-') {
      ++pos;
      int oh = 0, om = 0;
      if (!read_digits(s, pos, 2, oh) || !expect(s, pos, ':') || !read_digits(s, pos, 2, om) ||
          oh > 23 || om > 59) {
        return std::nullopt;
      }
      offset = hours{oh} + minutes{om};
      if (z == '-') offset = -offset;
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;

  const sys_seconds whole = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} - offset;
  // system_clock counts nanoseconds in 64 bits (years 1678..2261): refuse what it cannot hold
  // instead of overflowing.
  const auto lo = ceil<seconds>(TimePoint::min()) + seconds{1};
  const auto hi = floor<seconds>(TimePoint::max()) - seconds{1};
  if (whole < lo || whole > hi) return std::nullopt;
  return time_point_cast<Clock::duration>(whole) + duration_cast<Clock::duration>(frac);
}

std::optional<Millis> parse_duration(std::string_view s) {
  std::size_t pos = 0;
  std::int64_t n = 0;
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  while (pos < s.size() && is_digit(s[pos])) {
    const int digit = s[pos] - '0';
    if (n > (kMax - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
    ++pos;
  }
  if (pos == 0 || n == 0) return std::nullopt;

  const std::string_view unit = s.substr(pos);
  std::int64_t factor = 0;
  if (unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1'000;
  else if (unit == "m")
    factor = 60'000;
  else if (unit == "h")
    factor = 3'600'000;
  else if (unit == "d")
    factor = 86'400'000;
  else
    return std::nullopt;

  if (n > kMax / factor) return std::nullopt;
  return Millis{n * factor};
}

std::string format_duration(Millis d) {
  const auto n = d.count();
  // Zero would otherwise come out as "0h", which reads like a configuration mistake.
  if (n == 0) return "0ms";
  if (n % 86'400'000 == 0) return std::to_string(n / 86'400'000) + "d";
  if (n % 3'600'000 == 0) return std::to_string(n / 3'600'000) + "h";
  if (n % 60'000 == 0) return std::to_string(n / 60'000) + "m";
  if (n % 1'000 == 0) return std::to_string(n / 1'000) + "s";
  return std::to_string(n) + "ms";
}

}  // namespace valtronics::util
