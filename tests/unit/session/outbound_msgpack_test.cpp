// OutboundQueue with the valtronics.msgpack subprotocol (issue 15): data messages leave as
// binary frames holding the shared payload's MessagePack form; an update's own entries (seq,
// conflated, delivery_id, redelivered) follow the shared entries under a map header that counts
// them, plain or permessage-deflate compressed, alone or coalesced into one array. The wire is
// decoded as a client would: frame header, inflate, MessagePack.
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "codec/msgpack_json.hpp"
#include "config/limits.hpp"
#include "session/outbound_queue.hpp"
#include "support/outbound_wire.hpp"
#include "support/session_harness.hpp"

namespace valtronics::session {
namespace {

namespace json = boost::json;
using Bytes = OutboundQueue::Bytes;
using protocol::ws::Opcode;
using test::decode;
using test::drain;
using test::gather_all;

Bytes update(int n, int extra_fields = 0) {
  std::string text = R"({"type":"telemetry_update","channel":"telemetry","device_id":)" +
                     std::to_string(n) + R"(,"telemetry":{"level":{"value":)" +
                     std::to_string(n) + ".5}}";
  for (int i = 0; i < extra_fields; ++i) text += ",\"f" + std::to_string(i) + "\":" + std::to_string(i);
  return std::make_shared<const std::string>(text + "}");
}

json::value decoded(const test::Frame& f) {
  EXPECT_EQ(f.opcode, Opcode::binary) << "MessagePack goes in binary frames";
  std::string why;
  auto v = codec::from_msgpack(f.payload, why);
  EXPECT_TRUE(v) << why;
  return v.value_or(json::value());
}

// `payload` as JSON plus the entries a connection adds.
json::value with(const Bytes& payload, json::object added) {
  auto v = json::parse(*payload);
  for (auto& kv : added) v.as_object()[kv.key()] = kv.value();
  return v;
}

OutboundQueue msgpack_queue(bool compressed, bool coalesced = false) {
  OutboundQueue q(8 << 20);
  q.encode_msgpack();
  if (compressed) q.compress_with(15, 0);
  if (coalesced) q.coalesce();
  return q;
}

TEST(OutboundMsgpack, RepliesAndUpdatesAreTheSameMessagesInMessagePack) {
  for (bool compressed : {false, true}) {
    SCOPED_TRACE(compressed ? "compressed" : "plain");
    auto q = msgpack_queue(compressed);
    const auto reply = std::make_shared<const std::string>(R"({"type":"pong","id":"p1"})");
    ASSERT_TRUE(q.push_reliable(reply));
    ASSERT_TRUE(q.push_update(update(1), 41));
    q.push_telemetry(update(2), 2, {}, 42, 3);
    ASSERT_TRUE(q.push_update(update(3), 43, 7, true));
    const auto frames = decode(drain(q));
    ASSERT_EQ(frames.size(), 4u);
    for (const auto& f : frames) EXPECT_EQ(f.compressed, compressed);
    EXPECT_EQ(decoded(frames[0]), json::parse(*reply));
    EXPECT_EQ(decoded(frames[1]), with(update(1), {{"seq", 41}}));
    EXPECT_EQ(decoded(frames[2]), with(update(2), {{"seq", 42}, {"conflated", 3}}));
    EXPECT_EQ(decoded(frames[3]),
              with(update(3), {{"seq", 43}, {"delivery_id", 7}, {"redelivered", true}}));
  }
}

TEST(OutboundMsgpack, TheMapHeaderGrowsWhenTheAddedEntriesNeedABiggerOne) {
  // 15 entries (a fixmap) plus seq: 16 need a map 16 header, 2 bytes more than the shared one.
  auto q = msgpack_queue(false);
  const auto payload = update(5, 11);
  ASSERT_EQ(json::parse(*payload).as_object().size(), 15u);
  ASSERT_TRUE(q.push_update(payload, 9));
  const auto frames = decode(drain(q));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(static_cast<unsigned char>(frames[0].payload[0]), 0xde);
  EXPECT_EQ(decoded(frames[0]), with(payload, {{"seq", 9}}));
}

TEST(OutboundMsgpack, ControlFramesAreUnchanged) {
  auto q = msgpack_queue(true);
  ASSERT_TRUE(q.push_reliable(std::make_shared<const std::string>("ping me"), Opcode::pong));
  const auto frames = decode(drain(q));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, Opcode::pong);
  EXPECT_EQ(frames[0].payload, "ping me");
}

TEST(OutboundMsgpack, CoalescedMessagesAreOneArray) {
  // 40 messages: the array header grows from a fixarray (15) to an array 16 on the way.
  for (bool compressed : {false, true}) {
    SCOPED_TRACE(compressed ? "compressed" : "plain");
    auto q = msgpack_queue(compressed, true);
    for (int i = 1; i <= 40; ++i) ASSERT_TRUE(q.push_update(update(i), i));
    ASSERT_TRUE(q.push_reliable(std::make_shared<const std::string>(""), Opcode::ping));
    ASSERT_TRUE(q.push_update(update(41), 41));
    const auto frames = decode(drain(q));
    ASSERT_EQ(frames.size(), 3u);
    const auto array = decoded(frames[0]);
    ASSERT_TRUE(array.is_array());
    ASSERT_EQ(array.as_array().size(), 40u);
    for (int i = 1; i <= 40; ++i) EXPECT_EQ(array.as_array()[i - 1], with(update(i), {{"seq", i}}));
    EXPECT_EQ(frames[1].opcode, Opcode::ping);
    EXPECT_EQ(decoded(frames[2]), with(update(41), {{"seq", 41}})) << "a lone message is a map";
  }
}

TEST(OutboundMsgpack, RepliesAndUpdatesCoalesceTogether) {
  // A reply (no entries of its own, compressed whole) between updates (map header and entries
  // of their own, as stored blocks around the shared part).
  auto q = msgpack_queue(true, true);
  const auto reply = std::make_shared<const std::string>(R"({"type":"subscribed","id":1})");
  ASSERT_TRUE(q.push_update(update(1), 1));
  ASSERT_TRUE(q.push_reliable(reply));
  ASSERT_TRUE(q.push_update(update(2), 2));
  const auto frames = decode(drain(q));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(decoded(frames[0]),
            json::value(json::array{with(update(1), {{"seq", 1}}), json::parse(*reply),
                                    with(update(2), {{"seq", 2}})}));
}

TEST(OutboundMsgpack, PartialWritesAnywhereGiveTheSameBytes) {
  std::mt19937 rng(11);
  for (bool compressed : {false, true}) {
    auto whole = msgpack_queue(compressed, true), parts = msgpack_queue(compressed, true);
    for (auto* q : {&whole, &parts})
      for (int i = 1; i <= 30; ++i) ASSERT_TRUE(q->push_update(update(i), i));
    const std::string expected = drain(whole);
    std::string got;
    while (!parts.empty()) {
      const auto wire = gather_all(parts);
      const std::size_t n = std::uniform_int_distribution<std::size_t>(1, wire.size())(rng);
      got += wire.substr(0, n);
      parts.consumed_bytes(n);
    }
    EXPECT_EQ(got, expected);
  }
}

}  // namespace
}  // namespace valtronics::session
