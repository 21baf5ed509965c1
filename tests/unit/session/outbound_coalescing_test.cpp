// OutboundQueue's coalesced frames (issue 15, `hello` with "coalesce"): text messages queued
// together leave as one frame holding a JSON array, plain or permessage-deflate compressed; the
// bytes on the wire are decoded here as a client would (frame header, inflate, JSON parse). As
// in the server, gathered buffers are used before anything else is queued (a push may move the
// frames that hold the headers).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "config/limits.hpp"
#include "protocol/permessage_deflate.hpp"
#include "session/outbound_queue.hpp"
#include "support/outbound_wire.hpp"
#include "support/session_harness.hpp"

namespace valtronics::session {
namespace {

using Bytes = OutboundQueue::Bytes;
using protocol::ws::Opcode;
using test::decode;
using test::drain;
using test::gather_all;

Bytes json_message(int n, std::size_t pad = 0) {
  return std::make_shared<const std::string>(
      "{\"type\":\"telemetry_update\",\"device_id\":" + std::to_string(n) + ",\"pad\":\"" +
      std::string(pad, 'p') + "\"}");
}

// The messages a client reading arrays gets out of one frame's payload.
std::vector<boost::json::object> messages(const test::Frame& f) {
  std::vector<boost::json::object> out;
  auto v = boost::json::parse(f.payload);
  if (v.is_array()) {
    for (auto& e : v.as_array()) out.push_back(e.as_object());
  } else {
    out.push_back(v.as_object());
  }
  return out;
}

TEST(OutboundCoalescing, MessagesQueuedTogetherLeaveAsOneArrayFrame) {
  OutboundQueue q(1 << 20);
  q.coalesce();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(q.push_update(json_message(i), 10 + i));
  const auto wire_size = q.queued_bytes();
  std::size_t n = 0;
  const auto wire = gather_all(q, &n);
  EXPECT_EQ(wire.size(), wire_size) << "what a frame counts is what it writes";
  const auto frames = decode(wire);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, Opcode::text);
  EXPECT_EQ(frames[0].payload.front(), '[');
  const auto got = messages(frames[0]);
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].at("device_id").as_int64(), i + 1);
    EXPECT_EQ(got[i].at("seq").as_int64(), 11 + i);
  }
  EXPECT_EQ(q.consumed(n), 3u) << "each message counts as one sent";
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.queued_bytes(), 0u);
}

TEST(OutboundCoalescing, ALoneMessageStaysAnObjectAndNothingChangesWithoutTheFeature) {
  OutboundQueue q(1 << 20);
  q.coalesce();
  ASSERT_TRUE(q.push_update(json_message(1), 1));
  auto frames = decode(drain(q));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].payload, R"({"type":"telemetry_update","device_id":1,"pad":"","seq":1})");

  OutboundQueue plain(1 << 20);
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(plain.push_update(json_message(i), i));
  frames = decode(drain(plain));
  ASSERT_EQ(frames.size(), 3u);
  for (const auto& f : frames) EXPECT_EQ(f.payload.front(), '{');
}

TEST(OutboundCoalescing, AControlFrameEndsTheGroup) {
  OutboundQueue q(1 << 20);
  q.coalesce();
  ASSERT_TRUE(q.push_update(json_message(1), 1));
  ASSERT_TRUE(q.push_reliable(json_message(2)));  // a reply joins too: it is a text message
  ASSERT_TRUE(q.push_reliable(std::make_shared<const std::string>("pp"), Opcode::pong));
  ASSERT_TRUE(q.push_update(json_message(3), 2));
  const auto frames = decode(drain(q));
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(messages(frames[0]).size(), 2u);
  EXPECT_EQ(frames[1].opcode, Opcode::pong);
  EXPECT_EQ(frames[1].payload, "pp");
  EXPECT_EQ(messages(frames[2]).size(), 1u);
  EXPECT_EQ(frames[2].payload.front(), '{');
}

TEST(OutboundCoalescing, MessagesQueuedAfterAPartialWriteStartANewFrame) {
  // The socket took half of an array frame (a full socket buffer): its length is on the wire,
  // so messages queued while the rest waits must not join it.
  OutboundQueue q(1 << 20);
  q.coalesce();
  ASSERT_TRUE(q.push_update(json_message(1), 1));
  ASSERT_TRUE(q.push_update(json_message(2), 2));
  std::string wire = gather_all(q);
  const std::size_t half = wire.size() / 2;
  wire.resize(half);
  EXPECT_EQ(q.consumed_bytes(half), 0u);
  ASSERT_TRUE(q.push_update(json_message(3), 3));
  ASSERT_TRUE(q.push_update(json_message(4), 4));
  wire += drain(q);
  const auto frames = decode(wire);
  ASSERT_EQ(frames.size(), 2u);
  const auto first = messages(frames[0]), later = messages(frames[1]);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(later.size(), 2u);
  EXPECT_EQ(first[1].at("seq").as_int64(), 2);
  EXPECT_EQ(later[0].at("seq").as_int64(), 3);
  EXPECT_EQ(later[1].at("seq").as_int64(), 4);
}

TEST(OutboundCoalescing, GroupsStayWithinTheirMessageAndByteBounds) {
  OutboundQueue q(8 << 20);
  q.coalesce();
  const std::size_t count = limits::kMaxCoalescedMessages + 36;
  for (std::size_t i = 1; i <= count; ++i) ASSERT_TRUE(q.push_update(json_message(int(i)), i));
  auto frames = decode(drain(q));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(messages(frames[0]).size(), limits::kMaxCoalescedMessages);
  EXPECT_EQ(messages(frames[1]).size(), 36u);

  // 10 KB messages: six fit in 64 KiB.
  for (int i = 1; i <= 13; ++i) ASSERT_TRUE(q.push_update(json_message(i, 10'000), i));
  frames = decode(drain(q));
  ASSERT_EQ(frames.size(), 3u);
  std::size_t total = 0;
  for (const auto& f : frames) {
    EXPECT_LE(f.payload.size(), limits::kMaxCoalescedBytes);
    total += messages(f).size();
  }
  EXPECT_EQ(total, 13u);
  EXPECT_EQ(messages(frames[0]).size(), 6u);
}

TEST(OutboundCoalescing, AWriteNeverHasMoreBuffersThanIovMax) {
  // Two-message arrays (7 buffers: header with '[', payload, suffix, ',', payload, suffix, ']')
  // between pongs (2): 3 000 frames would be 9 000 buffers in one gather without the cap.
  OutboundQueue capped(8 << 20), reference(8 << 20);
  for (auto* q : {&capped, &reference}) {
    q->coalesce();
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(q->push_update(json_message(i), 2 * i + 1));
      ASSERT_TRUE(q->push_update(json_message(i), 2 * i + 2));
      ASSERT_TRUE(q->push_reliable(std::make_shared<const std::string>("p"), Opcode::pong));
    }
  }
  std::string wire;
  std::size_t writes = 0;
  while (!capped.empty()) {
    std::vector<iovec> bufs;
    const auto n = capped.gather(bufs, 100'000);
    ASSERT_LE(bufs.size(), limits::kMaxIovecsPerWrite);
    ASSERT_GT(n, 0u);
    for (auto& b : bufs) wire.append(static_cast<const char*>(b.iov_base), b.iov_len);
    capped.consumed(n);
    ++writes;
  }
  EXPECT_GE(writes, 9u);
  EXPECT_EQ(wire, drain(reference));
}

TEST(OutboundCoalescing, PartialWritesAnywhereGiveTheSameBytes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    OutboundQueue whole(1 << 20), parts(1 << 20);
    whole.coalesce();
    parts.coalesce();
    for (int i = 1; i <= 40; ++i) {
      const bool pong = i % 13 == 0;
      for (auto* q : {&whole, &parts}) {
        if (pong) ASSERT_TRUE(q->push_reliable(std::make_shared<const std::string>("p"), Opcode::pong));
        else ASSERT_TRUE(q->push_update(json_message(i, i * 7 % 50), i));
      }
    }
    const std::string expected = drain(whole);
    std::string got;
    while (!parts.empty()) {
      std::vector<iovec> bufs;
      parts.gather(bufs, 1 + rng() % 8);
      std::string chunk;
      for (auto& b : bufs) chunk.append(static_cast<const char*>(b.iov_base), b.iov_len);
      const std::size_t n = rng() % (chunk.size() + 1);  // the socket takes any prefix
      got += chunk.substr(0, n);
      parts.consumed_bytes(n);
    }
    ASSERT_EQ(got, expected) << "round " << round;
    std::size_t total = 0;
    for (const auto& f : decode(got))
      if (f.is_text()) total += messages(f).size();
    EXPECT_EQ(total, 40u - 3);  // 13, 26, 39 were pongs
  }
}

TEST(OutboundCoalescing, CompressedMessagesCoalesceIntoOneValidDeflateStream) {
  OutboundQueue q(1 << 20);
  q.compress_with(15, 64);
  q.coalesce();
  // Updates (compressed once, their seq a stored block), a reply compressed whole, and a short
  // message below the threshold, sent uncompressed: it cannot share the compressed frame.
  ASSERT_TRUE(q.push_update(json_message(1, 200), 1));
  ASSERT_TRUE(q.push_update(json_message(2, 200), 2, 77, true));
  ASSERT_TRUE(q.push_reliable(json_message(3, 300)));
  ASSERT_TRUE(q.push_update(json_message(4, 200), 3));
  ASSERT_TRUE(q.push_reliable(std::make_shared<const std::string>(R"({"type":"pong"})")));
  ASSERT_TRUE(q.push_update(json_message(5, 200), 4));
  const auto wire_size = q.queued_bytes();
  const auto wire = drain(q);
  EXPECT_EQ(wire.size(), wire_size);
  const auto frames = decode(wire);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_TRUE(frames[0].compressed);
  EXPECT_FALSE(frames[1].compressed);
  EXPECT_TRUE(frames[2].compressed);
  const auto first = messages(frames[0]);
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[0].at("seq").as_int64(), 1);
  EXPECT_EQ(first[1].at("delivery_id").as_int64(), 77);
  EXPECT_TRUE(first[1].at("redelivered").as_bool());
  EXPECT_FALSE(first[2].contains("seq"));
  EXPECT_EQ(first[2].at("pad").as_string().size(), 300u);
  EXPECT_EQ(first[3].at("seq").as_int64(), 3);
  EXPECT_EQ(frames[1].payload, R"({"type":"pong"})");
  const auto last = messages(frames[2]);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].at("seq").as_int64(), 4);
}

}  // namespace
}  // namespace valtronics::session
