// Unit tests of bench/histogram: bucket layout, precision, percentiles, merge.
#include "bench/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace valtronics::bench {
namespace {

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_DOUBLE_EQ(h.mean(), 0.0);
}

TEST(Histogram, SmallValuesAreExact) {
  for (std::uint64_t v = 0; v < 128; ++v) {
    EXPECT_EQ(Histogram::index_of(v), v);
    EXPECT_EQ(Histogram::lowest_in(v), v);
    EXPECT_EQ(Histogram::highest_in(v), v);
  }
}

TEST(Histogram, BucketsAreContiguousAndWithinOnePercent) {
  // Walk the buckets up to 60 s in µs: each starts right after the previous one, contains its
  // own bounds, and above the exact range (one value per bucket) is at most 1% wide.
  std::size_t top = Histogram::index_of(60'000'000);
  for (std::size_t i = 1; i <= top; ++i) {
    ASSERT_EQ(Histogram::lowest_in(i), Histogram::highest_in(i - 1) + 1) << i;
    ASSERT_EQ(Histogram::index_of(Histogram::lowest_in(i)), i);
    ASSERT_EQ(Histogram::index_of(Histogram::highest_in(i)), i);
    if (i < 128) continue;  // exact buckets of one value each
    double width = static_cast<double>(Histogram::highest_in(i) - Histogram::lowest_in(i) + 1);
    ASSERT_LE(width / static_cast<double>(Histogram::lowest_in(i)), 0.01) << i;
  }
  EXPECT_LT(top, 4000u);  // small enough to stay in cache
}

TEST(Histogram, PercentilesOfAUniformRange) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 10000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 10000u);
  EXPECT_DOUBLE_EQ(h.mean(), 5000.5);
  auto near = [](std::uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) <= want * Histogram::precision() + 1;
  };
  EXPECT_TRUE(near(h.percentile(50), 5000)) << h.percentile(50);
  EXPECT_TRUE(near(h.percentile(90), 9000)) << h.percentile(90);
  EXPECT_TRUE(near(h.percentile(99), 9900)) << h.percentile(99);
  EXPECT_TRUE(near(h.percentile(99.9), 9990)) << h.percentile(99.9);
  EXPECT_EQ(h.percentile(100), 10000u);
  EXPECT_EQ(h.percentile(0), 1u);
}

TEST(Histogram, PercentileNeverExceedsMaxOrUndercutsMin) {
  Histogram h;
  h.record(1000);
  h.record(1003);
  EXPECT_EQ(h.percentile(0), 1000u);
  EXPECT_EQ(h.percentile(100), 1003u);
  EXPECT_GE(h.percentile(50), 1000u);
  EXPECT_LE(h.percentile(50), 1003u);
}

TEST(Histogram, TailIsFoundAmongManySmallValues) {
  Histogram h;
  h.record(100, 999);
  h.record(50'000);
  EXPECT_EQ(h.percentile(99), 100u);
  EXPECT_EQ(h.percentile(99.9), 100u);
  EXPECT_EQ(h.percentile(99.95), 50'000u);
  EXPECT_EQ(h.max(), 50'000u);
}

TEST(Histogram, MatchesSortedSamplesWithinPrecision) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(6.0, 1.5);  // ~400 µs median, long tail
  std::vector<std::uint64_t> samples;
  Histogram h;
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<std::uint64_t>(dist(rng));
    samples.push_back(v);
    h.record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    // ceil(p% of n), with 99.9% of 100000 being exactly rank 99900.
    auto rank = static_cast<std::size_t>(std::llround(p * 1000) * samples.size() / 100000);
    double exact = static_cast<double>(samples[rank - 1]);
    double got = static_cast<double>(h.percentile(p));
    EXPECT_GE(got, exact) << p;
    EXPECT_LE(got, exact * (1 + Histogram::precision()) + 1) << p;
  }
}

TEST(Histogram, ValuesAboveTheRangeAreClampedButMaxIsExact) {
  Histogram h(1'000'000);
  h.record(5'000'000);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 5'000'000u);
  EXPECT_EQ(h.percentile(100), 5'000'000u);
}

TEST(Histogram, NegativeValuesCountAsZero) {
  Histogram h;
  h.record_signed(-5);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 0u);
}

TEST(Histogram, MergeAddsCountsAndExtremes) {
  Histogram a, b;
  a.record(10, 3);
  b.record(2000);
  b.record(5);
  a.merge(b);
  EXPECT_EQ(a.count(), 5u);
  EXPECT_EQ(a.min(), 5u);
  EXPECT_EQ(a.max(), 2000u);
  EXPECT_EQ(a.percentile(50), 10u);
  EXPECT_DOUBLE_EQ(a.mean(), (30.0 + 2000 + 5) / 5);
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.percentile(99), 0u);
}

}  // namespace
}  // namespace valtronics::bench
