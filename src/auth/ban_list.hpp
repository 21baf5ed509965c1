// Addresses refused for a cooling period after repeated auth failures (limits.ban_duration).
// Bounded (limits::kMaxBannedAddresses): when full, the ban ending first is evicted, expired
// ones before any. Not thread-safe: AbuseMonitor owns it and locks.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "util/expiring_map.hpp"

namespace valtronics::auth {

class BanList {
 public:
  using Time = std::chrono::steady_clock::time_point;
  explicit BanList(std::size_t max_addresses) : bans_(max_addresses) {}

  // Bans `address` until `until` (a ban already there is replaced). True when another ban had
  // to be evicted for room.
  bool ban(const std::string& address, Time until, Time now) {
    return bans_.put(address, Empty{}, until, now);
  }
  // When the ban of `address` ends, or nullopt when it is not banned at `now`.
  std::optional<Time> banned_until(const std::string& address, Time now) {
    if (!bans_.find(address, now)) return std::nullopt;
    return bans_.expires(address);
  }
  // Addresses banned at `now`.
  std::size_t size(Time now) {
    bans_.prune(now);
    return bans_.size();
  }

 private:
  struct Empty {};
  util::ExpiringMap<Empty> bans_;
};

}  // namespace valtronics::auth
