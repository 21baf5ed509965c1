// Bans, the suspicious-pattern log throttle and the abuse monitor with a synthetic clock:
// a ban after N failures within the window (not N spread wider), its length and expiry, other
// addresses unaffected, 0 disabling bans, the bounded ban list, the counters, and the log caps.
#include "auth/abuse_monitor.hpp"

#include <gtest/gtest.h>

#include "auth/ban_list.hpp"
#include "auth/log_throttle.hpp"
#include "config/limits.hpp"

namespace valtronics::auth {
namespace {

using namespace std::chrono_literals;
using Time = AbuseMonitor::Time;
const Time kT0 = Time(std::chrono::hours(1000));

AbuseMonitor::Options opts(std::size_t n, std::chrono::milliseconds window = 60s,
                           std::chrono::milliseconds ban = 300s) {
  return {n, window, ban};
}

TEST(BanListTest, BansExpireAndStayBounded) {
  BanList b(3);
  b.ban("a", kT0 + 10s, kT0);
  ASSERT_TRUE(b.banned_until("a", kT0 + 9s));
  EXPECT_EQ(*b.banned_until("a", kT0), kT0 + 10s);
  EXPECT_FALSE(b.banned_until("a", kT0 + 10s));
  EXPECT_FALSE(b.banned_until("z", kT0));
  b.ban("x", kT0 + 30s, kT0);
  b.ban("y", kT0 + 20s, kT0);
  b.ban("w", kT0 + 40s, kT0);
  EXPECT_TRUE(b.ban("v", kT0 + 50s, kT0));  // full: the ban ending first ("y") goes
  EXPECT_EQ(b.size(kT0), 3u);
  EXPECT_FALSE(b.banned_until("y", kT0));
  EXPECT_TRUE(b.banned_until("x", kT0));
  EXPECT_EQ(b.size(kT0 + 45s), 1u);
}

TEST(LogThrottleTest, OneLinePerKeyPerPeriodFromTheRepeat) {
  LogThrottle t(60s, 100, 100);
  EXPECT_FALSE(t.note("a", kT0, 2));  // a single event is not a pattern
  auto line = t.note("a", kT0 + 1s, 2);
  ASSERT_TRUE(line);
  EXPECT_EQ(line->count, 2u);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(t.note("a", kT0 + 2s, 2));
  EXPECT_FALSE(t.note("b", kT0 + 2s, 2));
  EXPECT_TRUE(t.note("b", kT0 + 3s, 2));  // keys are throttled apart
  // A new period: one more line.
  EXPECT_FALSE(t.note("a", kT0 + 61s, 2));
  EXPECT_TRUE(t.note("a", kT0 + 62s, 2));
}

TEST(LogThrottleTest, GlobalCapHoldsManyAddressesBack) {
  LogThrottle t(60s, 10'000, 5);
  int written = 0;
  for (int i = 0; i < 1000; ++i)
    if (t.note("addr" + std::to_string(i), kT0, 1)) ++written;
  // The first five keys got their line; the other 995 were suppressed, and their number comes
  // with the next line written, in a new period.
  EXPECT_EQ(written, 5);
  auto next = t.note("late", kT0 + 61s, 1);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->suppressed, 995u);
}

TEST(LogThrottleTest, KeysAreBounded) {
  LogThrottle t(60s, 10, 1'000'000);
  int written = 0;
  for (int round = 0; round < 3; ++round)
    for (int i = 0; i < 100; ++i)
      if (t.note("k" + std::to_string(i), kT0 + std::chrono::milliseconds(round), 1)) ++written;
  // With room for 10 keys, evicted keys log again: bounded memory costs extra lines, which the
  // global cap (here lifted) bounds in turn.
  EXPECT_GE(written, 100);
}

TEST(AbuseMonitorTest, BansAtTheThresholdWithinTheWindow) {
  AbuseMonitor m(opts(3, 60s, 300s));
  EXPECT_FALSE(m.auth_failure("1.1.1.1", "test", kT0));
  EXPECT_FALSE(m.auth_failure("1.1.1.1", "test", kT0 + 10s));
  EXPECT_FALSE(m.refuse_if_banned("1.1.1.1", kT0 + 10s));
  EXPECT_TRUE(m.auth_failure("1.1.1.1", "test", kT0 + 20s));
  auto left = m.refuse_if_banned("1.1.1.1", kT0 + 20s);
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, 300s);
  EXPECT_FALSE(m.refuse_if_banned("2.2.2.2", kT0 + 21s));  // others unaffected
  const auto s = m.stats(kT0 + 21s);
  EXPECT_EQ(s.auth_failures, 3u);
  EXPECT_EQ(s.bans, 1u);
  EXPECT_EQ(s.banned_addresses, 1u);
  EXPECT_EQ(s.banned_refusals, 1u);
  EXPECT_EQ(*m.refuse_if_banned("1.1.1.1", kT0 + 320s - 1ms), 1ms);
  EXPECT_FALSE(m.refuse_if_banned("1.1.1.1", kT0 + 320s));  // expired
  EXPECT_EQ(m.stats(kT0 + 320s).banned_refusals, 2u);  // the refusal after expiry is none
  EXPECT_EQ(m.stats(kT0 + 400s).banned_addresses, 0u);
}

TEST(AbuseMonitorTest, FailuresSpreadBeyondTheWindowDoNotBan) {
  AbuseMonitor m(opts(3, 60s));
  EXPECT_FALSE(m.auth_failure("1.1.1.1", "test", kT0));
  EXPECT_FALSE(m.auth_failure("1.1.1.1", "test", kT0 + 30s));
  EXPECT_FALSE(m.auth_failure("1.1.1.1", "test", kT0 + 61s));  // a new window starts here
  EXPECT_FALSE(m.auth_failure("1.1.1.1", "test", kT0 + 70s));
  EXPECT_FALSE(m.refuse_if_banned("1.1.1.1", kT0 + 70s));
  EXPECT_TRUE(m.auth_failure("1.1.1.1", "test", kT0 + 80s));
}

TEST(AbuseMonitorTest, CountingStartsAfreshAfterABan) {
  AbuseMonitor m(opts(2, 60s, 10s));
  m.auth_failure("a", "t", kT0);
  EXPECT_TRUE(m.auth_failure("a", "t", kT0 + 1s));
  EXPECT_FALSE(m.auth_failure("a", "t", kT0 + 12s));  // the first of a new count
  EXPECT_TRUE(m.auth_failure("a", "t", kT0 + 13s));
  EXPECT_EQ(m.stats(kT0 + 13s).bans, 2u);
}

TEST(AbuseMonitorTest, ZeroDisablesBansButStillCounts) {
  AbuseMonitor m(opts(0));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(m.auth_failure("a", "t", kT0));
  EXPECT_FALSE(m.refuse_if_banned("a", kT0));
  EXPECT_EQ(m.stats(kT0).auth_failures, 100u);
  EXPECT_EQ(m.stats(kT0).bans, 0u);
}

TEST(AbuseMonitorTest, LimitViolationsAreCounted) {
  AbuseMonitor m(opts(10));
  for (int i = 0; i < 7; ++i) m.limit_violation("a", "limits.messages_per_second", kT0);
  EXPECT_EQ(m.stats(kT0).limit_violations, 7u);
  EXPECT_FALSE(m.refuse_if_banned("a", kT0));  // violations never ban
}

TEST(AbuseMonitorTest, BanListIsBounded) {
  AbuseMonitor m(opts(1, 60s, 300s));
  const std::size_t n = limits::kMaxBannedAddresses + 500;
  for (std::size_t i = 0; i < n; ++i)
    m.auth_failure("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), "t",
                   kT0 + std::chrono::milliseconds(i));
  const auto s = m.stats(kT0 + 1s);
  EXPECT_EQ(s.bans, n);
  EXPECT_EQ(s.banned_addresses, limits::kMaxBannedAddresses);
  // The oldest bans were evicted first; the newest hold.
  EXPECT_FALSE(m.refuse_if_banned("10.0.0.0", kT0 + 20s));
  const std::size_t last = n - 1;
  EXPECT_TRUE(m.refuse_if_banned(
      "10.0." + std::to_string(last / 256) + "." + std::to_string(last % 256), kT0 + 20s));
}

}  // namespace
}  // namespace valtronics::auth
