// Rate limiting arithmetic: the per-connection token bucket with its flood-close rule, and the
// per-address sliding window for new connections. Time comes in as a parameter so the rules are
// tested exactly, without sleeps.

#include "auth/rate_limit.hpp"
#include "config/limits.hpp"

#include <algorithm>

namespace valtronics::auth {

namespace {


}  // namespace

TokenBucket::TokenBucket(double rate, double burst, SteadyTime now)
    : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

bool TokenBucket::try_take(SteadyTime now) {
  // Steady time cannot go back, but callers on different threads may pass slightly older
  // readings; treat that as no time elapsed rather than draining the bucket.
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    last_ = now;
  }
  // The epsilon absorbs floating-point drift from many small refills (0.9 + 0.1 < 1.0), which
  // would otherwise refuse a message that arrives exactly on time.
  constexpr double kEpsilon = 1e-9;
  if (tokens_ >= 1.0 - kEpsilon) {
    tokens_ = std::max(0.0, tokens_ - 1.0);
    return true;
  }
  return false;
}

MessageRateGuard::MessageRateGuard(double per_second, std::chrono::milliseconds close_after,
                                   SteadyTime now)
    // Burst of one second's worth: a client may send its whole per-second allowance at once
    // (a dashboard subscribing to many things on connect) but not more.
    : bucket_(per_second, std::max(per_second, 1.0), now), close_after_(close_after) {}

MessageRateGuard::Verdict MessageRateGuard::on_message(SteadyTime now) {
  if (flooding_ && now - last_reject_ >= limits::kFloodQuiet) flooding_ = false;
  if (bucket_.try_take(now)) return Verdict::allow;
  if (!flooding_) {
    flooding_ = true;
    flood_since_ = now;
  }
  last_reject_ = now;
  return now - flood_since_ >= close_after_ ? Verdict::close : Verdict::reject;
}

ConnectionRateLimiter::ConnectionRateLimiter(std::size_t per_minute) : per_minute_(per_minute) {}

bool ConnectionRateLimiter::allow(const std::string& address, SteadyTime now) {
  std::lock_guard lock(mutex_);
  auto expired = [&](SteadyTime t) { return now - t >= limits::kConnectionRateWindow; };

  // Sweep every address at most once per window: each sweep is O(addresses), and between
  // sweeps the map holds at most one window's worth of addresses, which bounds memory.
  if (now - last_prune_ >= limits::kConnectionRateWindow) {
    for (auto it = recent_.begin(); it != recent_.end();) {
      auto& q = it->second;
      while (!q.empty() && expired(q.front())) q.pop_front();
      it = q.empty() ? recent_.erase(it) : std::next(it);
    }
    last_prune_ = now;
  }

  auto& q = recent_[address];
  while (!q.empty() && expired(q.front())) q.pop_front();
  if (q.size() >= per_minute_) {
    // Refused attempts are not recorded: a client that keeps retrying gets in again as soon as
    // its oldest accepted connection leaves the window, instead of being locked out for good.
    if (q.empty()) recent_.erase(address);
    return false;
  }
  q.push_back(now);
  return true;
}

std::size_t ConnectionRateLimiter::tracked_addresses() {
  std::lock_guard lock(mutex_);
  return recent_.size();
}

}  // namespace valtronics::auth
