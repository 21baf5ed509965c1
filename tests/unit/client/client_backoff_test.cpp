// Full-jitter backoff: the window doubles from base up to cap, the delay is drawn inside it, and
// max_attempts (0 = unlimited) ends the retries.
#include "client/backoff.hpp"

#include <gtest/gtest.h>

namespace valtronics::client {
namespace {

using std::chrono::milliseconds;

TEST(ClientBackoff, CeilingDoublesUpToTheCap) {
  Backoff b{milliseconds(100), milliseconds(1000), 0};
  EXPECT_EQ(backoff_ceiling(b, 0), milliseconds(100));
  EXPECT_EQ(backoff_ceiling(b, 1), milliseconds(200));
  EXPECT_EQ(backoff_ceiling(b, 3), milliseconds(800));
  EXPECT_EQ(backoff_ceiling(b, 4), milliseconds(1000));
  // Huge attempt counts saturate instead of overflowing.
  EXPECT_EQ(backoff_ceiling(b, 1000000), milliseconds(1000));
}

TEST(ClientBackoff, DelayIsUniformInsideTheWindow) {
  Backoff b{milliseconds(500), milliseconds(30000), 0};
  EXPECT_EQ(backoff_delay(b, 2, 0.0), milliseconds(0));
  EXPECT_EQ(backoff_delay(b, 2, 0.5), milliseconds(1000));
  EXPECT_EQ(backoff_delay(b, 10, 0.5), milliseconds(15000));
  // Out-of-range draws are clamped to the window.
  EXPECT_EQ(backoff_delay(b, 0, 7.0), milliseconds(500));
  EXPECT_EQ(backoff_delay(b, 0, -1.0), milliseconds(0));
}

TEST(ClientBackoff, RandomDelaysSpreadOverTheWholeWindow) {
  Backoff b{milliseconds(1000), milliseconds(4000), 0};
  std::mt19937_64 rng(42);
  milliseconds lo(100000), hi(0);
  for (int i = 0; i < 2000; ++i) {
    auto d = backoff_delay(b, 5, rng);
    ASSERT_GE(d.count(), 0);
    ASSERT_LE(d, milliseconds(4000));
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  // Full jitter, not "half jitter" or equal jitter: both ends of [0, cap] are reached.
  EXPECT_LT(lo, milliseconds(100));
  EXPECT_GT(hi, milliseconds(3900));
}

TEST(ClientBackoff, MaxAttempts) {
  Backoff unlimited{};
  EXPECT_EQ(unlimited.max_attempts, 0u);
  EXPECT_FALSE(backoff_exhausted(unlimited, 1000000));
  Backoff three{milliseconds(1), milliseconds(2), 3};
  EXPECT_FALSE(backoff_exhausted(three, 0));
  EXPECT_FALSE(backoff_exhausted(three, 2));
  EXPECT_TRUE(backoff_exhausted(three, 3));
}

TEST(ClientBackoff, ZeroBaseMeansImmediateRetries) {
  Backoff b{milliseconds(0), milliseconds(1000), 0};
  EXPECT_EQ(backoff_ceiling(b, 5), milliseconds(0));
  EXPECT_EQ(backoff_delay(b, 5, 0.9), milliseconds(0));
}

}  // namespace
}  // namespace valtronics::client
