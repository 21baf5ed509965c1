// The bounded per-address map: expiry on lookup and by pruning, replacement, and eviction of the
// entry expiring first when full (expired entries before live ones).
#include "util/expiring_map.hpp"

#include <gtest/gtest.h>

namespace valtronics::util {
namespace {

using namespace std::chrono_literals;
using Time = ExpiringMap<int>::Time;
const Time kT0 = Time(std::chrono::hours(1000));

TEST(ExpiringMapTest, ValuesExpire) {
  ExpiringMap<int> m(10);
  m.put("a", 1, kT0 + 10s, kT0);
  ASSERT_TRUE(m.find("a", kT0 + 9s));
  EXPECT_EQ(*m.find("a", kT0 + 9s), 1);
  EXPECT_EQ(m.expires("a"), kT0 + 10s);
  EXPECT_FALSE(m.find("a", kT0 + 10s));
  EXPECT_EQ(m.size(), 0u);  // dropped by the lookup
  EXPECT_FALSE(m.find("b", kT0));
}

TEST(ExpiringMapTest, PutReplaces) {
  ExpiringMap<int> m(10);
  m.put("a", 1, kT0 + 10s, kT0);
  m.put("a", 2, kT0 + 20s, kT0);
  EXPECT_EQ(m.size(), 1u);
  ASSERT_TRUE(m.find("a", kT0 + 15s));
  EXPECT_EQ(*m.find("a", kT0 + 15s), 2);
}

TEST(ExpiringMapTest, FullEvictsTheEntryExpiringFirst) {
  ExpiringMap<int> m(3);
  EXPECT_FALSE(m.put("late", 1, kT0 + 30s, kT0));
  EXPECT_FALSE(m.put("early", 2, kT0 + 10s, kT0));
  EXPECT_FALSE(m.put("mid", 3, kT0 + 20s, kT0));
  EXPECT_TRUE(m.put("new", 4, kT0 + 40s, kT0));
  EXPECT_EQ(m.size(), 3u);
  EXPECT_FALSE(m.find("early", kT0));
  EXPECT_TRUE(m.find("late", kT0));
  EXPECT_TRUE(m.find("mid", kT0));
  EXPECT_TRUE(m.find("new", kT0));
  // Expired entries make room without evicting a live one.
  EXPECT_FALSE(m.put("newer", 5, kT0 + 50s, kT0 + 25s));  // "mid" (20 s) expired
  EXPECT_TRUE(m.find("late", kT0 + 25s));
  EXPECT_TRUE(m.find("new", kT0 + 25s));
}

TEST(ExpiringMapTest, StaysBoundedUnderManyKeys) {
  ExpiringMap<int> m(100);
  for (int i = 0; i < 100'000; ++i)
    m.put("k" + std::to_string(i), i, kT0 + std::chrono::seconds(60 + i % 7), kT0);
  EXPECT_EQ(m.size(), 100u);
  m.prune(kT0 + 1h);
  EXPECT_EQ(m.size(), 0u);
}

}  // namespace
}  // namespace valtronics::util
