// Rate limits with a synthetic clock: bucket refill and cap, the flood-close rule for steady and
// bursty flooders, and the per-address sliding window with its pruning.

#include "auth/rate_limit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace valtronics::auth {
namespace {

using namespace std::chrono_literals;
using Verdict = MessageRateGuard::Verdict;

const SteadyTime kT0 = SteadyTime(std::chrono::hours(1000));

TEST(TokenBucketTest, StartsFullAndEmpties) {
  TokenBucket b(10, 5, kT0);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(b.try_take(kT0)) << i;
  EXPECT_FALSE(b.try_take(kT0));
}

TEST(TokenBucketTest, RefillsAtRate) {
  TokenBucket b(100, 100, kT0);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(b.try_take(kT0));
  EXPECT_FALSE(b.try_take(kT0 + 9ms));   // 0.9 of a token
  EXPECT_TRUE(b.try_take(kT0 + 10ms));   // the first whole token
  EXPECT_FALSE(b.try_take(kT0 + 10ms));
  // Half a second later: 50 tokens.
  int taken = 0;
  while (b.try_take(kT0 + 510ms)) ++taken;
  EXPECT_EQ(taken, 50);
}

TEST(TokenBucketTest, NeverExceedsBurst) {
  TokenBucket b(100, 10, kT0);
  int taken = 0;
  while (b.try_take(kT0 + 1h)) ++taken;
  EXPECT_EQ(taken, 10);
}

TEST(TokenBucketTest, TimeGoingBackwardsAddsNothing) {
  TokenBucket b(1, 1, kT0);
  EXPECT_TRUE(b.try_take(kT0));
  EXPECT_FALSE(b.try_take(kT0 - 10s));
  EXPECT_FALSE(b.try_take(kT0 + 500ms));
  EXPECT_TRUE(b.try_take(kT0 + 1s));
}

TEST(MessageRateGuardTest, WithinRateIsAlwaysAllowed) {
  MessageRateGuard g(100, 5000ms, kT0);
  for (int i = 0; i < 10'000; ++i) {
    ASSERT_EQ(g.on_message(kT0 + std::chrono::milliseconds(i * 10)), Verdict::allow) << i;
  }
}

TEST(MessageRateGuardTest, BurstOfOneSecondThenReject) {
  MessageRateGuard g(100, 5000ms, kT0);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(g.on_message(kT0), Verdict::allow) << i;
  EXPECT_EQ(g.on_message(kT0), Verdict::reject);
}

TEST(MessageRateGuardTest, ContinuousFloodClosesAfterFiveSeconds) {
  MessageRateGuard g(100, 5000ms, kT0);
  // 1000 messages per second: 100 allowed at once, then about one in ten.
  SteadyTime first_reject{}, closed{};
  int allowed = 0;
  for (int i = 0; i < 10'000; ++i) {
    const SteadyTime t = kT0 + std::chrono::milliseconds(i);
    const Verdict v = g.on_message(t);
    if (v == Verdict::allow) ++allowed;
    if (v == Verdict::reject && first_reject == SteadyTime{}) first_reject = t;
    if (v == Verdict::close) {
      closed = t;
      break;
    }
  }
  ASSERT_NE(first_reject, SteadyTime{});
  ASSERT_NE(closed, SteadyTime{}) << "a steady flooder was never closed";
  EXPECT_GE(closed - first_reject, 5000ms);
  EXPECT_LE(closed - first_reject, 5010ms);
  // Messages kept getting through at the refill rate while flooding: the close is not caused by
  // a total lockout.
  EXPECT_GT(allowed, 500);
}

TEST(MessageRateGuardTest, SlightOverrateStillCloses) {
  // 150 messages per second against a limit of 100.
  MessageRateGuard g(100, 5000ms, kT0);
  Verdict last = Verdict::allow;
  std::chrono::microseconds t{0};
  while (t < 20s && last != Verdict::close) {
    last = g.on_message(kT0 + t);
    t += std::chrono::microseconds(6667);
  }
  EXPECT_EQ(last, Verdict::close);
  EXPECT_LT(t, 10s);
}

TEST(MessageRateGuardTest, NotClosedBeforeCloseAfter) {
  // A rate so low that the bucket does not refill during the test: every message after the
  // first is rejected, two per second, so the flood never pauses.
  MessageRateGuard g(0.1, 5000ms, kT0);
  EXPECT_EQ(g.on_message(kT0), Verdict::allow);
  for (auto t = 500ms; t < 5500ms; t += 500ms) {
    EXPECT_EQ(g.on_message(kT0 + t), Verdict::reject) << t.count();
  }
  EXPECT_EQ(g.on_message(kT0 + 5500ms), Verdict::close);  // 5 s after the first reject at 0.5 s
}

TEST(MessageRateGuardTest, QuietSecondEndsTheFlood) {
  MessageRateGuard g(10, 5000ms, kT0);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(g.on_message(kT0), Verdict::allow);
  EXPECT_EQ(g.on_message(kT0), Verdict::reject);
  EXPECT_EQ(g.on_message(kT0 + 50ms), Verdict::reject);
  // The client backs off: after a full second without rejection, the flood clock restarts.
  for (int i = 0; i < 10; ++i) ASSERT_EQ(g.on_message(kT0 + 4s), Verdict::allow);
  EXPECT_EQ(g.on_message(kT0 + 4s), Verdict::reject);  // new flood starts at 4 s
  // Twice the rate from then on: one message in two gets through, yet the flood goes on.
  for (auto t = 4100ms; t < 9000ms; t += 100ms) {
    ASSERT_EQ(g.on_message(kT0 + t), Verdict::allow) << t.count();
    ASSERT_EQ(g.on_message(kT0 + t), Verdict::reject) << t.count();
  }
  EXPECT_EQ(g.on_message(kT0 + 9s), Verdict::allow);
  EXPECT_EQ(g.on_message(kT0 + 9s), Verdict::close);
}

TEST(MessageRateGuardTest, RepeatedShortBurstsAreNotClosed) {
  // 15 messages at once, every 1.5 s: a few rejects per burst, but quiet in between.
  MessageRateGuard g(10, 5000ms, kT0);
  for (int burst = 0; burst < 20; ++burst) {
    const SteadyTime t = kT0 + std::chrono::milliseconds(burst * 1500);
    for (int i = 0; i < 15; ++i) ASSERT_NE(g.on_message(t), Verdict::close) << burst;
  }
}

TEST(ConnectionRateLimiterTest, AllowsPerMinuteThenRefuses) {
  ConnectionRateLimiter l(10);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(l.allow("10.0.0.1", kT0 + std::chrono::seconds(i)));
  EXPECT_FALSE(l.allow("10.0.0.1", kT0 + 10s));
  EXPECT_TRUE(l.allow("10.0.0.2", kT0 + 10s)) << "addresses are independent";
}

TEST(ConnectionRateLimiterTest, WindowSlides) {
  ConnectionRateLimiter l(3);
  EXPECT_TRUE(l.allow("a", kT0));
  EXPECT_TRUE(l.allow("a", kT0 + 20s));
  EXPECT_TRUE(l.allow("a", kT0 + 40s));
  EXPECT_FALSE(l.allow("a", kT0 + 59'999ms));
  EXPECT_TRUE(l.allow("a", kT0 + 60s));  // the one at 0 s left the window
  EXPECT_FALSE(l.allow("a", kT0 + 61s));
  EXPECT_TRUE(l.allow("a", kT0 + 80s));  // the one at 20 s left
  EXPECT_FALSE(l.allow("a", kT0 + 99s));
}

TEST(ConnectionRateLimiterTest, RefusedAttemptsDoNotExtendTheLockout) {
  ConnectionRateLimiter l(1);
  EXPECT_TRUE(l.allow("a", kT0));
  for (int s = 1; s < 60; ++s) EXPECT_FALSE(l.allow("a", kT0 + std::chrono::seconds(s)));
  EXPECT_TRUE(l.allow("a", kT0 + 60s));
}

TEST(ConnectionRateLimiterTest, PrunesIdleAddresses) {
  ConnectionRateLimiter l(10);
  for (int i = 0; i < 1000; ++i) l.allow("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), kT0);
  EXPECT_EQ(l.tracked_addresses(), 1000u);
  l.allow("192.168.0.1", kT0 + 30s);
  EXPECT_EQ(l.tracked_addresses(), 1001u);
  // A minute after the first burst every one of those windows is empty: swept on the next call.
  l.allow("192.168.0.2", kT0 + 61s);
  EXPECT_EQ(l.tracked_addresses(), 2u);
  l.allow("192.168.0.3", kT0 + 200s);
  EXPECT_EQ(l.tracked_addresses(), 1u);
}

TEST(ConnectionRateLimiterTest, ThreadSafe) {
  ConnectionRateLimiter l(50);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (l.allow("shared", kT0)) ++allowed;
        l.allow("other-" + std::to_string(i), kT0);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 50);
}

}  // namespace
}  // namespace valtronics::auth
