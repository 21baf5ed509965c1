// Counting, banning and the throttled warn lines of suspicious patterns.
#include "auth/abuse_monitor.hpp"

#include <spdlog/spdlog.h>

#include "config/limits.hpp"

namespace valtronics::auth {

namespace {

long long seconds_of(std::chrono::milliseconds d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

// "(and N other lines suppressed)" when the global cap held lines back.
std::string suppressed_note(std::uint64_t n) {
  return n ? " (" + std::to_string(n) + " other suspicious-pattern lines suppressed before)" : "";
}

}  // namespace

AbuseMonitor::AbuseMonitor(Options opts)
    : opts_(opts),
      failures_(limits::kMaxTrackedFailureAddresses),
      bans_(limits::kMaxBannedAddresses),
      log_(limits::kSuspiciousLogPeriod, limits::kMaxThrottledLogKeys,
           limits::kMaxSuspiciousLinesPerPeriod) {}

std::optional<std::chrono::milliseconds> AbuseMonitor::refuse_if_banned(const std::string& address,
                                                                        Time now) {
  if (maybe_banned_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto until = bans_.banned_until(address, now);
  maybe_banned_.store(bans_.size(now), std::memory_order_relaxed);
  if (!until) return std::nullopt;
  banned_refusals_.fetch_add(1, std::memory_order_relaxed);
  if (auto line = log_.note("banned " + address, now, limits::kSuspiciousRepeats))
    spdlog::warn("suspicious: banned address {} keeps trying ({} refusals within {} s){}",
                 address, line->count, seconds_of(limits::kSuspiciousLogPeriod),
                 suppressed_note(line->suppressed));
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::ceil<std::chrono::milliseconds>(*until - now));
}

bool AbuseMonitor::auth_failure(const std::string& address, std::string_view where, Time now) {
  auth_failures_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  if (auto line = log_.note("auth " + address, now, limits::kSuspiciousRepeats))
    spdlog::warn("suspicious: repeated auth failures from {} (latest: {}; {} within {} s){}",
                 address, where, line->count, seconds_of(limits::kSuspiciousLogPeriod),
                 suppressed_note(line->suppressed));
  if (opts_.failures_before_ban == 0) return false;
  Failures* f = failures_.find(address, now);
  if (!f) {
    failures_.put(address, Failures{}, now + opts_.failure_window, now);
    f = failures_.find(address, now);
    if (!f) return false;
  }
  if (++f->count < opts_.failures_before_ban) return false;
  failures_.erase(address);  // counting starts afresh after the ban
  bans_.ban(address, now + opts_.ban_duration, now);
  bans_total_.fetch_add(1, std::memory_order_relaxed);
  maybe_banned_.store(bans_.size(now), std::memory_order_relaxed);
  // One line per ban: a ban takes failures_before_ban failures, so these are rarer than the
  // failures; they share the global cap all the same.
  if (auto line = log_.note("ban " + address, now, 1))
    spdlog::warn("suspicious: address {} banned for {} s after {} auth failures within {} s{}",
                 address, seconds_of(opts_.ban_duration), opts_.failures_before_ban,
                 seconds_of(opts_.failure_window), suppressed_note(line->suppressed));
  return true;
}

void AbuseMonitor::limit_violation(const std::string& address, std::string_view what, Time now) {
  limit_violations_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  if (auto line = log_.note("limit " + address, now, limits::kSuspiciousRepeats))
    spdlog::warn("suspicious: repeated limit violations from {} (latest: {}; {} within {} s){}",
                 address, what, line->count, seconds_of(limits::kSuspiciousLogPeriod),
                 suppressed_note(line->suppressed));
}

AbuseMonitor::Stats AbuseMonitor::stats(Time now) {
  Stats s{};
  s.auth_failures = auth_failures_.load(std::memory_order_relaxed);
  s.bans = bans_total_.load(std::memory_order_relaxed);
  s.banned_refusals = banned_refusals_.load(std::memory_order_relaxed);
  s.limit_violations = limit_violations_.load(std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  s.banned_addresses = bans_.size(now);
  return s;
}

}  // namespace valtronics::auth
