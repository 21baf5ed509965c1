// Suspicious patterns per client address, shared by every I/O thread: bad tokens (WebSocket
// auth message, handshake bearer token, REST bearer token) are counted per address within
// limits.auth_failure_window, and an address reaching limits.auth_failures_before_ban is banned
// for limits.ban_duration (refused 403 ADDRESS_BANNED before any other work); limit violations
// (rate limits, floods, caps, 429s) are counted. Repeated events are logged at warn with the
// address, throttled (auth/log_throttle). Its counters are the abuse figures of the stats.
// Every per-address map is bounded (config/limits.hpp). Time is passed in, for the unit tests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "auth/ban_list.hpp"
#include "auth/log_throttle.hpp"
#include "util/expiring_map.hpp"

namespace valtronics::auth {

class AbuseMonitor {
 public:
  using Time = std::chrono::steady_clock::time_point;
  struct Options {
    std::size_t failures_before_ban = 10;  // 0: no bans (failures are still counted and logged)
    std::chrono::milliseconds failure_window{60'000};
    std::chrono::milliseconds ban_duration{300'000};
  };
  explicit AbuseMonitor(Options opts);

  // When `address` is banned: how long the ban still lasts (at least 1 ms), and the refusal is
  // counted (banned_refusals) and logged (throttled). nullopt when it may go on.
  std::optional<std::chrono::milliseconds> refuse_if_banned(const std::string& address, Time now);

  // A bad token from `address`; `where` names the path ("ws auth", "rest", ...) for the log.
  // Returns true when this failure banned the address.
  bool auth_failure(const std::string& address, std::string_view where, Time now);

  // A limit refused something of `address` (`what`: "message rate limit", "max_connections",
  // ...).
  void limit_violation(const std::string& address, std::string_view what, Time now);

  struct Stats {
    std::uint64_t auth_failures;     // bad tokens, since start
    std::uint64_t bans;              // addresses banned, since start
    std::uint64_t banned_addresses;  // banned now
    std::uint64_t banned_refusals;   // requests and upgrades refused because banned
    std::uint64_t limit_violations;  // refusals by a rate limit or cap, since start
  };
  Stats stats(Time now);

  const Options& options() const { return opts_; }
  // Reloaded ban settings (SIGHUP; the caller has every I/O thread paused): bans in force keep
  // their end, new failures count against the new settings.
  void set_options(Options opts) { opts_ = opts; }

 private:
  struct Failures {
    std::size_t count = 0;
  };
  Options opts_;
  std::mutex mutex_;  // guards the three maps
  util::ExpiringMap<Failures> failures_;  // per address, expiring with its window
  BanList bans_;
  LogThrottle log_;
  // Bans not yet known to have expired: while 0 (the usual case) the ban check takes no lock.
  std::atomic<std::size_t> maybe_banned_{0};
  std::atomic<std::uint64_t> auth_failures_{0}, bans_total_{0}, banned_refusals_{0},
      limit_violations_{0};
};

}  // namespace valtronics::auth
