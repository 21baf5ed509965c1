// Rate limits: a per-connection token bucket for messages (with the "still flooding" rule that
// closes abusers) and a per-address limiter for new connections. Time is passed in, so both are
// unit-tested without sleeping.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace valtronics::auth {

using SteadyTime = std::chrono::steady_clock::time_point;

// Token bucket: `rate` tokens per second, bucket size `burst` (starts full).
class TokenBucket {
 public:
  TokenBucket(double rate, double burst, SteadyTime now);
  bool try_take(SteadyTime now);  // takes one token if available

 private:
  double rate_, burst_, tokens_;
  SteadyTime last_;
};

// The per-connection message rule: each message is allowed, rejected (reply rate_limited), or
// the connection must close (4008) because it has kept flooding for `close_after`. A flood starts
// at the first rejected message and ends only after a full second with no rejection: an allowed
// message alone does not end it, since a steady flooder still gets one message through per
// refilled token and would otherwise never be closed.
class MessageRateGuard {
 public:
  enum class Verdict { allow, reject, close };
  MessageRateGuard(double per_second, std::chrono::milliseconds close_after, SteadyTime now);
  Verdict on_message(SteadyTime now);

 private:
  TokenBucket bucket_;
  std::chrono::milliseconds close_after_;
  bool flooding_ = false;
  SteadyTime flood_since_{};
  SteadyTime last_reject_{};
};

// At most `per_minute` new connections per client address in any sliding 60 s window.
// Thread-safe (called from every I/O thread at the handshake); memory is bounded by pruning
// addresses whose window is empty.
class ConnectionRateLimiter {
 public:
  explicit ConnectionRateLimiter(std::size_t per_minute);
  bool allow(const std::string& address, SteadyTime now);
  // A reloaded limits.connections_per_minute (SIGHUP): the next handshakes count against it.
  void set_per_minute(std::size_t per_minute) {
    std::lock_guard lock(mutex_);
    per_minute_ = per_minute;
  }

  // Number of addresses currently remembered (for tests and stats: shows pruning works).
  std::size_t tracked_addresses();

 private:
  std::size_t per_minute_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<SteadyTime>> recent_;
  SteadyTime last_prune_{};
};

}  // namespace valtronics::auth
