// Throttling of the suspicious-pattern warn lines, so that the log itself cannot be flooded:
// a line about a key (an event kind and an address) is written at the `min_repeats`-th event of
// that key within a period, and then not again in that period; and at most `max_lines` lines are
// written per period for all keys together (an attacker with many addresses), the others
// counted and reported with the next line written. Bounded: at most `max_keys` keys remembered
// (the one whose period ends first is forgotten). Not thread-safe: the owner locks.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "util/expiring_map.hpp"

namespace valtronics::auth {

class LogThrottle {
 public:
  using Time = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  LogThrottle(Duration period, std::size_t max_keys, std::size_t max_lines);

  struct Line {
    std::uint64_t count;       // events of this key in its current period
    std::uint64_t suppressed;  // lines of any key not written since the last line, for the cap
  };
  // Notes one event of `key`; a Line when a line is to be written now.
  std::optional<Line> note(const std::string& key, Time now, std::uint64_t min_repeats);

 private:
  struct Entry {
    std::uint64_t count = 0;
    bool logged = false;
  };
  Duration period_;
  std::size_t max_lines_;
  util::ExpiringMap<Entry> keys_;
  Time window_start_{};         // the global cap's period
  std::size_t lines_in_window_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace valtronics::auth
