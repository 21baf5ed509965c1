// Reconnect delays: exponential backoff with full jitter (AWS Architecture Blog, "Exponential
// Backoff and Jitter"): attempt n sleeps uniform(0, min(cap, base * 2^n)). Full jitter spreads a
// fleet of clients that lost the same server over the whole window instead of having them return
// in synchronized waves. Pure: the random draw is passed in, so tests need no clock or generator.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace valtronics::client {

struct Backoff {
  // Half a second: a restarting server is usually back within a few seconds, and the first
  // retries of a fleet then spread over 0.5 s, 1 s, 2 s...
  std::chrono::milliseconds base{500};
  // Thirty seconds: long outages cost at most half a minute of extra delay once the server is back.
  std::chrono::milliseconds cap{30000};
  // Reconnect attempts after a loss (counted until one authenticates) before giving up;
  // 0 = never give up (a dashboard or `listen` should outlive any outage).
  unsigned max_attempts = 0;
};

// min(cap, base * 2^attempt), attempt counted from 0; saturates instead of overflowing.
std::chrono::milliseconds backoff_ceiling(const Backoff& b, unsigned attempt);

// The delay before retry `attempt` (from 0): u * backoff_ceiling(b, attempt), u in [0, 1).
std::chrono::milliseconds backoff_delay(const Backoff& b, unsigned attempt, double u);

// The same with u drawn from `rng`.
std::chrono::milliseconds backoff_delay(const Backoff& b, unsigned attempt, std::mt19937_64& rng);

// True when `attempts` reconnect attempts already made exhaust b.max_attempts (never when 0).
bool backoff_exhausted(const Backoff& b, unsigned attempts);

}  // namespace valtronics::client
