// The per-key and global caps of the suspicious-pattern log.
#include "auth/log_throttle.hpp"

namespace valtronics::auth {

LogThrottle::LogThrottle(Duration period, std::size_t max_keys, std::size_t max_lines)
    : period_(period), max_lines_(max_lines), keys_(max_keys) {}

std::optional<LogThrottle::Line> LogThrottle::note(const std::string& key, Time now,
                                                   std::uint64_t min_repeats) {
  Entry* e = keys_.find(key, now);
  if (!e) {
    keys_.put(key, Entry{}, now + period_, now);
    e = keys_.find(key, now);
    if (!e) return std::nullopt;  // max_keys 0: nothing is ever logged
  }
  ++e->count;
  if (e->logged || e->count < min_repeats) return std::nullopt;
  e->logged = true;  // one line per key per period, whether written or suppressed below
  if (now - window_start_ >= period_) {
    window_start_ = now;
    lines_in_window_ = 0;
  }
  if (lines_in_window_ >= max_lines_) {
    ++suppressed_;
    return std::nullopt;
  }
  ++lines_in_window_;
  Line line{e->count, suppressed_};
  suppressed_ = 0;
  return line;
}

}  // namespace valtronics::auth
