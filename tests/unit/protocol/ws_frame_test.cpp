// Unit tests for the RFC 6455 framing layer (src/protocol/ws_frame.*): FrameReader's parsing,
// reassembly, limits and error codes, the server-side encoders, close payloads, the handshake
// accept key and UTF-8 validation. Client frames are built by hand with ClientFrame so that
// tests can produce the malformed frames a hostile peer would send.
#include "protocol/ws_frame.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace valtronics::protocol::ws {
namespace {

using Kind = ReadResult::Kind;

// Builds one client-to-server frame. Defaults give a valid masked final frame; the knobs exist
// to break exactly one rule at a time.
struct ClientFrame {
  unsigned opcode = 0x1;
  std::string payload;
  bool fin = true;
  bool masked = true;
  unsigned rsv = 0;                 // bits 0x70 of the first byte
  int length_bytes = -1;            // 0, 2 or 8 forces that encoding; -1 picks the minimal one
  std::uint64_t announced = ~0ULL;  // overrides the length field (payload is still appended)
  unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};

  std::string build() const {
    std::string out;
    out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv & 0x70) | (opcode & 0x0F)));
    const std::uint64_t len = announced != ~0ULL ? announced : payload.size();
    int lb = length_bytes;
    if (lb < 0) lb = len < 126 ? 0 : len <= 0xFFFF ? 2 : 8;
    const unsigned char mask_bit = masked ? 0x80 : 0;
    if (lb == 0) {
      out.push_back(static_cast<char>(mask_bit | len));
    } else if (lb == 2) {
      out.push_back(static_cast<char>(mask_bit | 126));
      out.push_back(static_cast<char>(len >> 8));
      out.push_back(static_cast<char>(len & 0xFF));
    } else {
      out.push_back(static_cast<char>(mask_bit | 127));
      for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
    }
    if (masked) {
      out.append(reinterpret_cast<const char*>(key), 4);
      for (std::size_t i = 0; i < payload.size(); ++i) {
        out.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
      }
    } else {
      out.append(payload);
    }
    return out;
  }
};

std::string frame(unsigned opcode, std::string payload, bool fin = true) {
  ClientFrame f;
  f.opcode = opcode;
  f.payload = std::move(payload);
  f.fin = fin;
  return f.build();
}

void feed(FrameReader& r, std::string_view bytes) { r.append(bytes.data(), bytes.size()); }

// A message as owned data, since ReadResult::payload expires on the next call.
struct Msg {
  Opcode opcode;
  std::string payload;
  bool operator==(const Msg&) const = default;
};

std::vector<Msg> drain(FrameReader& r) {
  std::vector<Msg> out;
  for (;;) {
    ReadResult res = r.next();
    if (res.kind == Kind::need_more) return out;
    EXPECT_EQ(res.kind, Kind::message) << "unexpected error " << res.close_code << " " << res.reason;
    if (res.kind != Kind::message) return out;
    out.push_back({res.opcode, std::string(res.payload)});
  }
}

void expect_error(FrameReader& r, std::uint16_t code) {
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::error);
  EXPECT_EQ(res.close_code, code) << res.reason;
  EXPECT_FALSE(res.reason.empty());
}

std::uint16_t error_for(std::string_view bytes, std::size_t max = 1 << 20) {
  FrameReader r(max);
  feed(r, bytes);
  ReadResult res = r.next();
  while (res.kind == Kind::message) res = r.next();
  return res.kind == Kind::error ? res.close_code : 0;
}

// --- Reading -------------------------------------------------------------------------------

TEST(WsFrameReader, MaskedTextFrame) {
  FrameReader r(1024);
  feed(r, frame(0x1, "Hello"));
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.opcode, Opcode::text);
  EXPECT_EQ(res.payload, "Hello");
  EXPECT_EQ(r.next().kind, Kind::need_more);
}

TEST(WsFrameReader, Rfc6455MaskedHelloExample) {
  // RFC 6455 5.7: "A single-frame masked text message".
  const unsigned char bytes[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  FrameReader r(1024);
  r.append(reinterpret_cast<const char*>(bytes), sizeof bytes);
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.payload, "Hello");
}

TEST(WsFrameReader, EmptyMessagesAndPings) {
  FrameReader r(1024);
  feed(r, frame(0x1, "") + frame(0x2, "") + frame(0x9, "") + frame(0xA, "p"));
  std::vector<Msg> want = {
      {Opcode::text, ""}, {Opcode::binary, ""}, {Opcode::ping, ""}, {Opcode::pong, "p"}};
  EXPECT_EQ(drain(r), want);
}

TEST(WsFrameReader, ByteByByteFeeding) {
  const std::string payload(300, 'x');
  const std::string bytes = frame(0x2, payload) + frame(0x1, "tail");
  FrameReader r(1024);
  std::vector<Msg> got;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    r.append(&bytes[i], 1);
    for (ReadResult res = r.next(); res.kind != Kind::need_more; res = r.next()) {
      ASSERT_EQ(res.kind, Kind::message);
      got.push_back({res.opcode, std::string(res.payload)});
      if (got.size() == 1) {
        EXPECT_EQ(i, 4 + 4 + payload.size() - 1);  // complete exactly at its last byte
      }
    }
  }
  std::vector<Msg> want = {{Opcode::binary, payload}, {Opcode::text, "tail"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(WsFrameReader, SeveralFramesInOneAppend) {
  FrameReader r(1024);
  feed(r, frame(0x1, "one") + frame(0x2, std::string("\x00\x01\xff", 3)) + frame(0x9, "ping") +
              frame(0x1, "four"));
  std::vector<Msg> want = {{Opcode::text, "one"},
                           {Opcode::binary, std::string("\x00\x01\xff", 3)},
                           {Opcode::ping, "ping"},
                           {Opcode::text, "four"}};
  EXPECT_EQ(drain(r), want);
}

TEST(WsFrameReader, PayloadViewsPointIntoStableDataUntilNextCall) {
  FrameReader r(1024);
  feed(r, frame(0x1, "first") + frame(0x1, "second"));
  ReadResult a = r.next();
  ASSERT_EQ(a.kind, Kind::message);
  const std::string a_copy(a.payload);
  EXPECT_EQ(a_copy, "first");
  ReadResult b = r.next();
  ASSERT_EQ(b.kind, Kind::message);
  EXPECT_EQ(b.payload, "second");
}

TEST(WsFrameReader, SixteenBitLength) {
  for (std::size_t n : {126u, 300u, 65535u}) {
    std::string payload(n, 'a');
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>('a' + i % 26);
    FrameReader r(1 << 20);
    const std::string bytes = frame(0x1, payload);
    ASSERT_EQ(static_cast<unsigned char>(bytes[1]), 0x80 | 126);
    feed(r, bytes);
    ReadResult res = r.next();
    ASSERT_EQ(res.kind, Kind::message) << n;
    EXPECT_EQ(res.payload, payload);
  }
}

TEST(WsFrameReader, SixtyFourBitLength) {
  std::string payload(70000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  const std::string bytes = frame(0x2, payload);
  ASSERT_EQ(static_cast<unsigned char>(bytes[1]), 0x80 | 127);
  FrameReader r(1 << 20);
  // Header and part of the payload first: not complete yet.
  feed(r, std::string_view(bytes).substr(0, 5000));
  EXPECT_EQ(r.next().kind, Kind::need_more);
  feed(r, std::string_view(bytes).substr(5000));
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.opcode, Opcode::binary);
  EXPECT_EQ(res.payload, payload);
}

TEST(WsFrameReader, NonMinimalLengthEncodingsAccepted) {
  ClientFrame f16;
  f16.payload = "short";
  f16.length_bytes = 2;
  ClientFrame f64;
  f64.payload = "also short";
  f64.length_bytes = 8;
  FrameReader r(1024);
  feed(r, f16.build() + f64.build());
  std::vector<Msg> want = {{Opcode::text, "short"}, {Opcode::text, "also short"}};
  EXPECT_EQ(drain(r), want);
}

TEST(WsFrameReader, UnmaskingAllLengthsAndKeys) {
  // Covers the 8-byte unmasking path and its tail for every length residue.
  std::mt19937 rng(42);
  for (std::size_t n = 0; n < 70; ++n) {
    ClientFrame f;
    f.opcode = 0x2;
    f.payload.resize(n);
    for (auto& c : f.payload) c = static_cast<char>(rng());
    for (auto& k : f.key) k = static_cast<unsigned char>(rng());
    FrameReader r(1024);
    // A leading odd-sized frame puts the payload at an unaligned offset.
    feed(r, frame(0x9, "abc") + f.build());
    ASSERT_EQ(r.next().opcode, Opcode::ping);
    ReadResult res = r.next();
    ASSERT_EQ(res.kind, Kind::message);
    EXPECT_EQ(res.payload, f.payload) << n;
  }
}

TEST(WsFrameReader, FragmentationWithInterleavedPing) {
  FrameReader r(1024);
  feed(r, frame(0x1, "Hel", false));
  EXPECT_EQ(r.next().kind, Kind::need_more);
  feed(r, frame(0x9, "are you there") + frame(0x0, "lo, ", false));
  ReadResult ping = r.next();
  ASSERT_EQ(ping.kind, Kind::message);
  EXPECT_EQ(ping.opcode, Opcode::ping);
  EXPECT_EQ(ping.payload, "are you there");
  EXPECT_EQ(r.next().kind, Kind::need_more);
  feed(r, frame(0x0, "world") + frame(0x2, "after"));
  std::vector<Msg> want = {{Opcode::text, "Hello, world"}, {Opcode::binary, "after"}};
  EXPECT_EQ(drain(r), want);
}

TEST(WsFrameReader, FragmentedBinaryWithEmptyFragments) {
  FrameReader r(1024);
  feed(r, frame(0x2, "", false) + frame(0x0, "ab", false) + frame(0x0, "", false) +
              frame(0x0, "c"));
  std::vector<Msg> want = {{Opcode::binary, "abc"}};
  EXPECT_EQ(drain(r), want);
}

TEST(WsFrameReader, TwoFragmentedMessagesInARow) {
  FrameReader r(1024);
  feed(r, frame(0x1, "a", false) + frame(0x0, "b") + frame(0x2, "c", false) + frame(0x0, "d"));
  std::vector<Msg> want = {{Opcode::text, "ab"}, {Opcode::binary, "cd"}};
  EXPECT_EQ(drain(r), want);
}

TEST(WsFrameReader, RandomChunkingMatchesWholeFeed) {
  // The same stream cut at random points must give the same messages (exercises compaction).
  std::mt19937 rng(7);
  std::string stream;
  std::vector<Msg> want;
  for (int i = 0; i < 200; ++i) {
    const std::size_t n = rng() % 3 == 0 ? rng() % 70000 : rng() % 200;
    std::string payload(n, 'q');
    for (auto& c : payload) c = static_cast<char>('a' + rng() % 26);
    switch (rng() % 4) {
      case 0:
        stream += frame(0x9, payload.substr(0, 125));
        want.push_back({Opcode::ping, payload.substr(0, 125)});
        break;
      case 1: {
        const std::size_t cut = n / 2;
        stream += frame(0x2, payload.substr(0, cut), false);
        stream += frame(0xA, "x");
        want.push_back({Opcode::pong, "x"});
        stream += frame(0x0, payload.substr(cut));
        want.push_back({Opcode::binary, payload});
        break;
      }
      default:
        stream += frame(0x1, payload);
        want.push_back({Opcode::text, payload});
    }
  }
  FrameReader r(1 << 20);
  std::vector<Msg> got;
  std::size_t off = 0;
  while (off < stream.size()) {
    const std::size_t chunk = std::min<std::size_t>(1 + rng() % 9000, stream.size() - off);
    r.append(stream.data() + off, chunk);
    off += chunk;
    for (auto& m : drain(r)) got.push_back(std::move(m));
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(r.buffered(), 0u);
}

// --- Protocol errors (1002) ----------------------------------------------------------------

TEST(WsFrameReader, UnmaskedFrameIs1002) {
  ClientFrame f;
  f.payload = "hi";
  f.masked = false;
  EXPECT_EQ(error_for(f.build()), 1002);
}

TEST(WsFrameReader, ErrorDetectedFromFirstTwoBytes) {
  // Malformed headers are refused without waiting for the rest of the frame.
  ClientFrame f;
  f.payload = std::string(1000, 'x');
  f.masked = false;
  EXPECT_EQ(error_for(f.build().substr(0, 2)), 1002);
}

TEST(WsFrameReader, ReservedBitsAre1002) {
  for (unsigned rsv : {0x40u, 0x20u, 0x10u, 0x70u}) {
    ClientFrame f;
    f.payload = "x";
    f.rsv = rsv;
    EXPECT_EQ(error_for(f.build()), 1002) << rsv;
  }
}

TEST(WsFrameReader, UnknownOpcodesAre1002) {
  for (unsigned op : {3u, 4u, 5u, 6u, 7u, 0xBu, 0xCu, 0xDu, 0xEu, 0xFu}) {
    EXPECT_EQ(error_for(frame(op, "x")), 1002) << op;
  }
}

TEST(WsFrameReader, ControlFrameOver125Is1002) {
  EXPECT_EQ(error_for(frame(0x9, std::string(126, 'p'))), 1002);
  EXPECT_EQ(error_for(frame(0xA, std::string(200, 'p'))), 1002);
  // 125 is the largest allowed.
  FrameReader r(1024);
  feed(r, frame(0x9, std::string(125, 'p')));
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.payload.size(), 125u);
}

TEST(WsFrameReader, ControlFrameLengthCheckedOnDecodedValue) {
  // Non-minimal encodings are accepted, so a 5-byte ping in the 16-bit form is fine ...
  ClientFrame f;
  f.opcode = 0x9;
  f.payload = "hello";
  f.length_bytes = 2;
  FrameReader r(1024);
  feed(r, f.build());
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.payload, "hello");
  ClientFrame h;
  h.opcode = 0xA;
  h.length_bytes = 8;
  h.payload = "x";
  FrameReader r2(1024);
  feed(r2, h.build());
  res = r2.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.payload, "x");
  // ... but a decoded length of 126 is refused as soon as the length field is in.
  ClientFrame g;
  g.opcode = 0x9;
  g.announced = 126;
  EXPECT_EQ(error_for(g.build().substr(0, 4)), 1002);
}

TEST(WsFrameReader, FragmentedControlIs1002) {
  EXPECT_EQ(error_for(frame(0x9, "x", false)), 1002);
  EXPECT_EQ(error_for(frame(0xA, "x", false)), 1002);
  EXPECT_EQ(error_for(frame(0x8, "", false)), 1002);
}

TEST(WsFrameReader, ContinuationWithoutMessageIs1002) {
  EXPECT_EQ(error_for(frame(0x0, "x")), 1002);
  EXPECT_EQ(error_for(frame(0x0, "x", false)), 1002);
  // Also after a message has just completed.
  EXPECT_EQ(error_for(frame(0x1, "a", false) + frame(0x0, "b") + frame(0x0, "c")), 1002);
}

TEST(WsFrameReader, NewDataFrameInsideFragmentedMessageIs1002) {
  EXPECT_EQ(error_for(frame(0x1, "a", false) + frame(0x1, "b")), 1002);
  EXPECT_EQ(error_for(frame(0x2, "a", false) + frame(0x2, "b", false)), 1002);
}

TEST(WsFrameReader, SixtyFourBitLengthWithHighBitIs1002) {
  ClientFrame f;
  f.opcode = 0x2;
  f.announced = 1ULL << 63;
  const std::string bytes = f.build();
  EXPECT_EQ(error_for(std::string_view(bytes).substr(0, 10), ~std::size_t{0}), 1002);
}

TEST(WsFrameReader, CloseFrames) {
  FrameReader r(1024);
  feed(r, frame(0x8, close_payload(1000, "bye")));
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.opcode, Opcode::close);
  std::uint16_t code = 0;
  std::string reason;
  ASSERT_TRUE(parse_close_payload(res.payload, code, reason));
  EXPECT_EQ(code, 1000);
  EXPECT_EQ(reason, "bye");

  FrameReader empty(1024);
  feed(empty, frame(0x8, ""));
  res = empty.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.opcode, Opcode::close);
  EXPECT_TRUE(res.payload.empty());
}

TEST(WsFrameReader, InvalidClosePayloadIs1002) {
  EXPECT_EQ(error_for(frame(0x8, "\x03")), 1002);  // one byte
  for (unsigned c : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 2000u, 2999u, 5000u, 65535u}) {
    EXPECT_EQ(error_for(frame(0x8, close_payload(static_cast<std::uint16_t>(c), ""))), 1002) << c;
  }
  EXPECT_EQ(error_for(frame(0x8, close_payload(1000, "\xc3\x28"))), 1002);  // bad UTF-8 reason
}

// --- Size limits (1009) --------------------------------------------------------------------

TEST(WsFrameReader, TooBigAnnouncedIs1009WithoutBuffering) {
  // Only the header of a huge frame has arrived: refused at once, nothing kept.
  ClientFrame f;
  f.opcode = 0x2;
  f.announced = (1ULL << 63) - 1;
  const std::string header = f.build().substr(0, 14);
  FrameReader r(1 << 20);
  feed(r, header);
  expect_error(r, 1009);
  EXPECT_EQ(r.buffered(), 0u);

  // Even before the masking key has arrived.
  FrameReader r2(100);
  ClientFrame g;
  g.opcode = 0x1;
  g.announced = 101;
  feed(r2, g.build().substr(0, 4));
  expect_error(r2, 1009);
}

TEST(WsFrameReader, ExactlyMaxIsAccepted) {
  FrameReader r(100);
  feed(r, frame(0x2, std::string(100, 'x')));
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.payload.size(), 100u);
  EXPECT_EQ(error_for(frame(0x2, std::string(101, 'x')), 100), 1009);
}

TEST(WsFrameReader, TooBigReassembledIs1009) {
  FrameReader r(100);
  feed(r, frame(0x1, std::string(60, 'a'), false));
  EXPECT_EQ(r.next().kind, Kind::need_more);
  // The second fragment's header alone is enough to know the total exceeds the limit.
  feed(r, frame(0x0, std::string(41, 'b')).substr(0, 2));
  expect_error(r, 1009);

  // Exactly the limit when reassembled is fine.
  FrameReader ok(100);
  feed(ok, frame(0x1, std::string(60, 'a'), false) + frame(0x0, std::string(40, 'b')));
  ReadResult res = ok.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.payload.size(), 100u);
}

TEST(WsFrameReader, ControlFramesNotCountedAgainstMessageLimit) {
  FrameReader r(10);
  feed(r, frame(0x1, std::string(10, 'a'), false) + frame(0x9, std::string(50, 'p')) +
              frame(0x0, ""));
  std::vector<Msg> want = {{Opcode::ping, std::string(50, 'p')},
                           {Opcode::text, std::string(10, 'a')}};
  EXPECT_EQ(drain(r), want);
}

// --- UTF-8 (1007) --------------------------------------------------------------------------

const std::vector<std::string>& invalid_utf8_samples() {
  static const std::vector<std::string> samples = {
      "\x80",                       // lone continuation byte
      "abc\xbf",                    // continuation after ASCII
      "\xc0\x80",                   // overlong NUL
      "\xc1\xbf",                   // overlong U+007F
      "\xe0\x80\x80",               // overlong 3-byte
      "\xe0\x9f\xbf",               // overlong U+07FF
      "\xf0\x80\x80\x80",           // overlong 4-byte
      "\xf0\x8f\xbf\xbf",           // overlong U+FFFF
      "\xed\xa0\x80",               // U+D800 high surrogate
      "\xed\xbf\xbf",               // U+DFFF low surrogate
      "\xed\xa0\xbd\xed\xb2\xa9",   // CESU-8 surrogate pair
      "\xf4\x90\x80\x80",           // U+110000
      "\xf5\x80\x80\x80",           // lead byte beyond U+10FFFF
      "\xf8\x88\x80\x80\x80",       // 5-byte form
      "\xfe",                       // never valid
      "\xff",                       // never valid
      "\xc3",                       // truncated 2-byte
      "\xe2\x82",                   // truncated 3-byte
      "\xf0\x9f\x98",               // truncated 4-byte
      "\xc3\x28",                   // bad continuation
      "\xe2\x28\xa1",               // bad second byte
      "\xe2\x82\x28",               // bad third byte
      "\xf0\x9f\x98\x28",           // bad fourth byte
      "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited",  // surrogate mid-text
  };
  return samples;
}

TEST(WsUtf8, ValidMultiByte) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii"));
  EXPECT_TRUE(valid_utf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));  // κόσμε
  EXPECT_TRUE(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));    // café € 😀
  EXPECT_TRUE(valid_utf8(std::string("\x00", 1)));
  // Boundaries of each length.
  EXPECT_TRUE(valid_utf8("\x7f"));
  EXPECT_TRUE(valid_utf8("\xc2\x80"));          // U+0080
  EXPECT_TRUE(valid_utf8("\xdf\xbf"));          // U+07FF
  EXPECT_TRUE(valid_utf8("\xe0\xa0\x80"));      // U+0800
  EXPECT_TRUE(valid_utf8("\xed\x9f\xbf"));      // U+D7FF
  EXPECT_TRUE(valid_utf8("\xee\x80\x80"));      // U+E000
  EXPECT_TRUE(valid_utf8("\xef\xbf\xbf"));      // U+FFFF
  EXPECT_TRUE(valid_utf8("\xf0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
}

TEST(WsUtf8, InvalidSequences) {
  for (const auto& s : invalid_utf8_samples()) EXPECT_FALSE(valid_utf8(s)) << testing::PrintToString(s);
}

TEST(WsUtf8, InvalidByteAtEveryPositionOfLongAscii) {
  // Exercises the 8-byte ASCII fast path and its boundaries.
  for (std::size_t len = 1; len < 40; ++len) {
    std::string s(len, 'a');
    EXPECT_TRUE(valid_utf8(s));
    for (std::size_t i = 0; i < len; ++i) {
      std::string t = s;
      t[i] = '\xff';
      EXPECT_FALSE(valid_utf8(t)) << len << " " << i;
      std::string u = s;
      u.insert(i, "\xe2\x82\xac");
      EXPECT_TRUE(valid_utf8(u)) << len << " " << i;
      EXPECT_FALSE(valid_utf8(u.substr(0, i + 2))) << len << " " << i;  // cut inside €
    }
  }
}

TEST(WsFrameReader, InvalidUtf8TextIs1007) {
  for (const auto& s : invalid_utf8_samples()) {
    EXPECT_EQ(error_for(frame(0x1, s)), 1007) << testing::PrintToString(s);
  }
}

TEST(WsFrameReader, InvalidUtf8InFragmentedTextIs1007) {
  EXPECT_EQ(error_for(frame(0x1, "ok", false) + frame(0x0, "\xed\xa0\x80")), 1007);
  EXPECT_EQ(error_for(frame(0x1, "ok\xe2\x82", false) + frame(0x0, "")), 1007);  // truncated
}

TEST(WsFrameReader, CodePointSplitAcrossFragmentsIsValid) {
  FrameReader r(1024);
  feed(r, frame(0x1, "\xf0\x9f", false) + frame(0x0, "\x98", false) + frame(0x0, "\x80!"));
  std::vector<Msg> want = {{Opcode::text, "\xf0\x9f\x98\x80!"}};
  EXPECT_EQ(drain(r), want);
}

TEST(WsFrameReader, ValidMultiByteText) {
  FrameReader r(1024);
  const std::string s = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf4\x8f\xbf\xbf";
  feed(r, frame(0x1, s));
  std::vector<Msg> want = {{Opcode::text, s}};
  EXPECT_EQ(drain(r), want);
}

TEST(WsFrameReader, BinaryIsNotValidatedAsUtf8) {
  FrameReader r(1024);
  feed(r, frame(0x2, "\xff\xfe\xc0\x80"));
  std::vector<Msg> want = {{Opcode::binary, "\xff\xfe\xc0\x80"}};
  EXPECT_EQ(drain(r), want);
}

// --- Accounting and error state ------------------------------------------------------------

TEST(WsFrameReader, BufferedAccounting) {
  FrameReader r(1 << 20);
  EXPECT_EQ(r.buffered(), 0u);
  const std::string a = frame(0x1, std::string(1000, 'a'));
  feed(r, std::string_view(a).substr(0, 500));
  EXPECT_EQ(r.buffered(), 500u);
  EXPECT_EQ(r.next().kind, Kind::need_more);
  EXPECT_EQ(r.buffered(), 500u);
  feed(r, std::string_view(a).substr(500));
  EXPECT_EQ(r.buffered(), a.size());
  ASSERT_EQ(r.next().kind, Kind::message);
  EXPECT_EQ(r.buffered(), 0u);

  // Fragments already consumed count as their payload bytes while reassembly is open.
  const std::string f1 = frame(0x2, std::string(300, 'b'), false);
  const std::string f2 = frame(0x0, std::string(200, 'c'));
  feed(r, f1 + f2.substr(0, 10));
  EXPECT_EQ(r.next().kind, Kind::need_more);
  EXPECT_EQ(r.buffered(), 300u + 10u);
  feed(r, f2.substr(10));
  ReadResult res = r.next();
  ASSERT_EQ(res.kind, Kind::message);
  EXPECT_EQ(res.payload.size(), 500u);
  EXPECT_EQ(r.buffered(), 0u);  // returned
  EXPECT_EQ(r.next().kind, Kind::need_more);
  EXPECT_EQ(r.buffered(), 0u);
}

TEST(WsFrameReader, BufferedCountsUnreadCompleteFrames) {
  FrameReader r(1024);
  const std::string a = frame(0x1, "one");
  const std::string b = frame(0x1, "two!");
  feed(r, a + b);
  EXPECT_EQ(r.buffered(), a.size() + b.size());
  ASSERT_EQ(r.next().kind, Kind::message);
  EXPECT_EQ(r.buffered(), b.size());
}

TEST(WsFrameReader, StaysFailedAfterError) {
  FrameReader r(1024);
  feed(r, frame(0x1, "fine") + frame(0x1, "\xff") + frame(0x1, "never"));
  ReadResult ok = r.next();
  ASSERT_EQ(ok.kind, Kind::message);
  EXPECT_EQ(ok.payload, "fine");
  expect_error(r, 1007);
  expect_error(r, 1007);
  feed(r, frame(0x1, "more valid data"));
  expect_error(r, 1007);
  EXPECT_EQ(r.buffered(), 0u);  // input after the error is dropped
}

TEST(WsFrameReader, StaysFailedAfterProtocolError) {
  FrameReader r(1024);
  ClientFrame f;
  f.masked = false;
  feed(r, f.build());
  expect_error(r, 1002);
  feed(r, frame(0x1, "ok"));
  expect_error(r, 1002);
}

// --- Encoding ------------------------------------------------------------------------------

TEST(WsEncode, HeaderLengths) {
  unsigned char h[10];
  ASSERT_EQ(encode_header(h, Opcode::text, 0), 2u);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 0x00);

  ASSERT_EQ(encode_header(h, Opcode::binary, 125), 2u);
  EXPECT_EQ(h[0], 0x82);
  EXPECT_EQ(h[1], 125);

  ASSERT_EQ(encode_header(h, Opcode::text, 126), 4u);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ(h[2], 0x00);
  EXPECT_EQ(h[3], 126);

  ASSERT_EQ(encode_header(h, Opcode::text, 65535), 4u);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ(h[2], 0xFF);
  EXPECT_EQ(h[3], 0xFF);

  ASSERT_EQ(encode_header(h, Opcode::text, 65536), 10u);
  EXPECT_EQ(h[1], 127);
  const unsigned char want[8] = {0, 0, 0, 0, 0, 1, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(h[2 + i], want[i]) << i;

  ASSERT_EQ(encode_header(h, Opcode::binary, 0x0102030405ULL), 10u);
  const unsigned char want2[8] = {0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(h[2 + i], want2[i]) << i;
}

TEST(WsEncode, ControlOpcodesInHeader) {
  unsigned char h[10];
  encode_header(h, Opcode::close, 2);
  EXPECT_EQ(h[0], 0x88);
  encode_header(h, Opcode::ping, 0);
  EXPECT_EQ(h[0], 0x89);
  encode_header(h, Opcode::pong, 0);
  EXPECT_EQ(h[0], 0x8A);
}

TEST(WsEncode, EncodeFrame) {
  EXPECT_EQ(encode_frame(Opcode::text, "Hello"), std::string("\x81\x05Hello"));
  const std::string big(300, 'z');
  const std::string f = encode_frame(Opcode::binary, big);
  ASSERT_EQ(f.size(), 4u + 300u);
  EXPECT_EQ(f.substr(0, 4), std::string("\x82\x7e\x01\x2c", 4));
  EXPECT_EQ(f.substr(4), big);
}

TEST(WsClose, PayloadRoundTrip) {
  const std::string p = close_payload(1001, "going away");
  EXPECT_EQ(p, std::string("\x03\xe9going away"));
  std::uint16_t code = 0;
  std::string reason;
  ASSERT_TRUE(parse_close_payload(p, code, reason));
  EXPECT_EQ(code, 1001);
  EXPECT_EQ(reason, "going away");

  ASSERT_TRUE(parse_close_payload(close_payload(4000, ""), code, reason));
  EXPECT_EQ(code, 4000);
  EXPECT_EQ(reason, "");
}

TEST(WsClose, EmptyPayloadMeans1005) {
  std::uint16_t code = 0;
  std::string reason = "stale";
  ASSERT_TRUE(parse_close_payload("", code, reason));
  EXPECT_EQ(code, 1005);
  EXPECT_EQ(reason, "");
}

TEST(WsClose, ValidAndInvalidCodes) {
  std::uint16_t code;
  std::string reason;
  for (unsigned c : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 1012u, 1013u,
                     1014u, 3000u, 4999u}) {
    EXPECT_TRUE(parse_close_payload(close_payload(static_cast<std::uint16_t>(c), "r"), code, reason))
        << c;
    EXPECT_EQ(code, c);
  }
  for (unsigned c : {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 2999u, 5000u, 65535u}) {
    EXPECT_FALSE(parse_close_payload(close_payload(static_cast<std::uint16_t>(c), ""), code, reason))
        << c;
  }
  EXPECT_FALSE(parse_close_payload("\x03", code, reason));
  EXPECT_FALSE(parse_close_payload(std::string("\x03\xe8\xc0\x80", 4), code, reason));
}

TEST(WsClose, LongReasonTruncatedTo125BytesOnCodePointBoundary) {
  const std::string ascii(200, 'r');
  std::string p = close_payload(1000, ascii);
  EXPECT_EQ(p.size(), 125u);

  // 61 two-byte characters = 122 bytes, then a 3-byte € straddling the 123-byte limit.
  std::string multi;
  for (int i = 0; i < 61; ++i) multi += "\xc3\xa9";
  multi += "\xe2\x82\xac";
  multi += "tail";
  p = close_payload(1000, multi);
  EXPECT_EQ(p.size(), 2u + 122u);
  std::uint16_t code;
  std::string reason;
  EXPECT_TRUE(parse_close_payload(p, code, reason));
  // And it fits in a control frame the reader accepts.
  FrameReader r(1024);
  feed(r, frame(0x8, p));
  EXPECT_EQ(r.next().kind, Kind::message);
}

// --- Handshake -----------------------------------------------------------------------------

TEST(WsHandshake, AcceptKeyRfcVector) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsHandshake, AcceptKeyIsAlways28Chars) {
  EXPECT_EQ(accept_key("x3JJHMbDL1EzLkh9GBhXDw==").size(), 28u);
  EXPECT_EQ(accept_key("x3JJHMbDL1EzLkh9GBhXDw=="), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

}  // namespace
}  // namespace valtronics::protocol::ws
