// codec/msgpack_json: JSON values <-> MessagePack. The bytes of a few values are checked
// against the MessagePack spec by hand; the rest round-trips, and every way a client's bytes
// can be wrong is refused with a reason (never a crash: the fuzz target takes it further).
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>

#include "codec/msgpack_json.hpp"

namespace valtronics::codec {
namespace {

namespace json = boost::json;

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

TEST(MsgpackJson, WritesTheSmallestFormOfEachValue) {
  // fixmap 2, fixstr "a", positive fixint 1, fixstr "b", fixarray 3: nil, true, -1 (negative
  // fixint), then float 64 of 0.5 and a 300 as uint 16.
  const auto v = json::parse(R"({"a":1,"b":[null,true,-1,0.5,300]})");
  EXPECT_EQ(hex(to_msgpack(v)), "82a16101a16295c0c3ffcb3fe0000000000000cd012c");
  EXPECT_EQ(hex(to_msgpack(json::value(std::string(40, 'x')))).substr(0, 4), "d928");  // str 8
  EXPECT_EQ(hex(to_msgpack(json::value(-200))), "d1ff38");                          // int 16
  EXPECT_EQ(hex(to_msgpack(json::value(std::uint64_t(1) << 63))), "cf8000000000000000");
}

TEST(MsgpackJson, RoundTripsTheServersMessages) {
  for (const char* text :
       {R"({"type":"telemetry_update","channel":"telemetry","device_id":7,"telemetry":{"temperature":{"value":23.5,"unit":"C","timestamp":"2026-12-07T20:00:00.000Z"}}})",
        R"({"type":"alert","alert_id":123456789012,"metadata":{"nested":{"deep":[1,2,{"x":null}]}},"title":"\u00e9\u0000\""})",
        R"([{"type":"pong","timestamp":null},{"type":"error","error":"invalid_json"}])"}) {
    const auto v = json::parse(text);
    std::string why;
    const auto back = from_msgpack(to_msgpack(v), why);
    ASSERT_TRUE(back) << why;
    EXPECT_EQ(*back, v) << text;
  }
}

TEST(MsgpackJson, ReadsWhatOtherEncodersWrite) {
  // Not the smallest forms (other libraries may use them): map 16, str 8 key, int 8 for a
  // positive number, float 32.
  std::string why;
  const auto v = from_msgpack(unhex("de0001d90474797065d0059000"), why);
  ASSERT_FALSE(v) << "two values follow the map";
  EXPECT_NE(why.find("more than one value (2 bytes"), std::string::npos) << why;
  const auto w = from_msgpack(unhex("de0002d904747970650ba176ca3fc00000"), why);
  ASSERT_TRUE(w) << why;
  EXPECT_EQ(*w, json::parse(R"({"type":11,"v":1.5})"));
}

TEST(MsgpackJson, NumbersReadAsBoostJsonParsesThem) {
  // Unsigned MessagePack integers are int64 values while they fit (what json::parse makes of
  // the same JSON number), uint64 beyond.
  std::string why;
  const auto small = from_msgpack(unhex("cd012c"), why);  // uint 16: 300
  ASSERT_TRUE(small) << why;
  EXPECT_TRUE(small->is_int64());
  EXPECT_EQ(*small, json::parse("300"));
  const auto big = from_msgpack(unhex("cfffffffffffffffff"), why);  // uint 64 max
  ASSERT_TRUE(big) << why;
  EXPECT_TRUE(big->is_uint64());
  EXPECT_EQ(*big, json::parse("18446744073709551615"));
  const auto negative = from_msgpack(unhex("d0fb"), why);  // int 8: -5
  ASSERT_TRUE(negative) << why;
  EXPECT_EQ(*negative, json::parse("-5"));
}

TEST(MsgpackJson, RefusesWhatJsonCannotHoldWithAReason) {
  struct Case {
    const char* hex;
    const char* reason;
  };
  for (const Case& c : {
           Case{"", "empty message"},
           Case{"82a161", "not well-formed"},              // a map cut short
           Case{"c1", "not a MessagePack type"},           // the never-used type byte
           Case{"8101a162", "not a string"},               // an integer key
           Case{"c40201ff", "binary values"},              // bin 8
           Case{"d40100", "extension values"},             // fixext 1
           Case{"cb7ff8000000000000", "not finite"},       // NaN
           Case{"0102", "more than one value"},
       }) {
    std::string why;
    EXPECT_FALSE(from_msgpack(unhex(c.hex), why)) << c.hex;
    EXPECT_NE(why.find(c.reason), std::string::npos) << c.hex << ": " << why;
  }
}

TEST(MsgpackJson, ACountBeyondTheMessageIsRefusedBeforeAnythingIsAllocated) {
  // An array 32 announcing 2^32-1 nils with three present: MsgPuck's mp_check() adds the count
  // to an int and takes it (found by the fuzz target, tests/fuzz/fuzz_msgpack.cpp); read
  // naively, reserve() asked for 128 GiB.
  std::string why;
  EXPECT_FALSE(from_msgpack(unhex("ddffffffffc0c0c0"), why));
  EXPECT_NE(why.find("truncated"), std::string::npos) << why;
  EXPECT_FALSE(from_msgpack(unhex("dfffffffffa161c0"), why));  // a map 32 alike
  EXPECT_FALSE(from_msgpack(unhex("92c0"), why));              // two announced, one present
  EXPECT_TRUE(from_msgpack(unhex("92c0c0"), why)) << why;
}

TEST(MsgpackJson, RefusesNestingDeeperThanTheLimitWithoutRecursingFurther) {
  // 100 000 nested one-element arrays: well-formed, and far deeper than the stack would allow
  // a naive reader.
  std::string deep(100'000, '\x91');
  deep += '\xc0';
  std::string why;
  EXPECT_FALSE(from_msgpack(deep, why));
  EXPECT_NE(why.find("deeper than 32"), std::string::npos) << why;
  std::string ok(32, '\x91');
  ok += '\xc0';
  EXPECT_TRUE(from_msgpack(ok, why)) << why;
}

TEST(MsgpackJson, MapHeadsAreReadAndWrittenInEachSize) {
  char buf[5];
  for (std::uint32_t n : {0u, 15u, 16u, 65535u, 65536u}) {
    const auto size = put_map_head(n, buf);
    EXPECT_EQ(size, n < 16 ? 1u : n < 65536 ? 3u : 5u);
    const auto head = map_head(std::string_view(buf, size));
    ASSERT_TRUE(head);
    EXPECT_EQ(head->count, n);
    EXPECT_EQ(head->size, size);
  }
  EXPECT_FALSE(map_head(unhex("91c0")));  // an array
  EXPECT_FALSE(map_head(unhex("de00")));  // cut short
  EXPECT_FALSE(map_head(""));
}

}  // namespace
}  // namespace valtronics::codec
