// The bench's pure bookkeeping: pipelined replies matched in FIFO order, conflated frames,
// final values, and the floor scenario's frame header and percentiles.
#include "bench/accounting.hpp"

#include <gtest/gtest.h>

#include <string>

#include "bench/floor.hpp"
#include "bench/protocols.hpp"

namespace vb = valtronics::bench;

TEST(BenchInFlight, RepliesAnswerTheOldestRequestFirst) {
  vb::InFlight f(3);
  EXPECT_TRUE(f.has_room());
  f.sent({7, 700, {}});
  f.sent({8, 800, {}});
  f.sent({9, 900, {}});
  EXPECT_FALSE(f.has_room());
  auto a = f.answered();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->k, 7u);
  EXPECT_EQ(a->stamp, 700);
  EXPECT_TRUE(f.has_room());
  f.sent({10, 1000, {}});
  EXPECT_EQ(f.answered()->k, 8u);
  EXPECT_EQ(f.answered()->k, 9u);
  EXPECT_EQ(f.answered()->k, 10u);
  EXPECT_FALSE(f.answered());  // a reply nobody asked for
}

TEST(BenchInFlight, DepthOneWaitsForEachReplyAndClearDropsTheRest) {
  vb::InFlight f(1);
  f.sent({1, 1, {}});
  EXPECT_FALSE(f.has_room());
  vb::InFlight g(0);  // clamped to 1
  g.sent({1, 1, {}});
  EXPECT_FALSE(g.has_room());
  g.clear();
  EXPECT_TRUE(g.empty());
  EXPECT_FALSE(g.answered());
}

TEST(BenchConflation, CountsTheUpdatesAFrameStandsFor) {
  std::string plain = R"({"type":"telemetry_update","device_id":1,"telemetry":{"bench_seq":{"value":5}},"seq":12})";
  std::string merged = R"({"type":"telemetry_update","device_id":1,"telemetry":{"bench_seq":{"value":9}},"seq":13,"conflated":4})";
  EXPECT_EQ(vb::conflated_count(plain), 1u);
  EXPECT_EQ(vb::conflated_count(merged), 4u);
  EXPECT_EQ(vb::conflated_count(R"({"seq":1,"conflated":0})"), 1u);  // not a count: plain
  EXPECT_EQ(vb::conflated_count(""), 1u);
  // A metric named like the key, far from the tail, is not the suffix.
  std::string pad(100, ' ');
  EXPECT_EQ(vb::conflated_count(R"({"telemetry":{"conflated":{"value":3}})" + pad + R"(,"seq":2})"), 1u);
}

TEST(BenchTally, ConflatedFramesCoverTheirUpdates) {
  vb::SubscriberTally s;
  s.received(100, 1);
  s.received(200, 3);  // stands for 3 updates, values of the latest (200)
  EXPECT_EQ(s.frames, 2u);
  EXPECT_EQ(s.conflated_frames, 1u);
  EXPECT_EQ(s.conflated_updates, 3u);
  EXPECT_EQ(s.covered(), 4u);
  auto t = vb::tally_delivery(s, 4, 200);
  EXPECT_EQ(t.loss, 0u);
  EXPECT_EQ(t.excess, 0u);
  EXPECT_FALSE(t.final_mismatch);
  t = vb::tally_delivery(s, 6, 300);  // two readings neither delivered nor covered
  EXPECT_EQ(t.loss, 2u);
  EXPECT_TRUE(t.final_mismatch);
  t = vb::tally_delivery(s, 3, 200);
  EXPECT_EQ(t.excess, 1u);
}

TEST(BenchTally, FinalValueIsCheckedOnlyWhenSomethingWasAccepted) {
  vb::SubscriberTally none;
  EXPECT_FALSE(vb::tally_delivery(none, 0, std::nullopt).final_mismatch);
  EXPECT_TRUE(vb::tally_delivery(none, 1, 100).final_mismatch);  // nothing received at all
}

TEST(BenchLastAccepted, KeepsTheGreatestStampWhateverTheReplyOrder) {
  vb::LastAccepted last(2);
  EXPECT_FALSE(last.of(1));
  last.accepted(1, 300);
  last.accepted(1, 200);  // an earlier batch answered later on another connection
  last.accepted(2, 50);
  EXPECT_EQ(last.of(1), 300);
  EXPECT_EQ(last.of(2), 50);
}

TEST(BenchFloor, ServerTextHeaders) {
  EXPECT_EQ(vb::server_text_header(5), (std::vector<unsigned char>{0x81, 5}));
  EXPECT_EQ(vb::server_text_header(300), (std::vector<unsigned char>{0x81, 126, 0x01, 0x2C}));
  auto big = vb::server_text_header(70'000);
  ASSERT_EQ(big.size(), 10u);
  EXPECT_EQ(big[1], 127);
  EXPECT_EQ(big[7], 0x01);
  EXPECT_EQ(big[8], 0x11);
  EXPECT_EQ(big[9], 0x70);
}

TEST(BenchFloor, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(vb::percentile_of_sorted(v, 50), 50);
  EXPECT_EQ(vb::percentile_of_sorted(v, 99), 99);
  EXPECT_EQ(vb::percentile_of_sorted(v, 100), 100);
  EXPECT_EQ(vb::percentile_of_sorted(v, 0), 1);
  EXPECT_EQ(vb::percentile_of_sorted({}, 50), 0);
}
