// Unit tests of util/time: the timestamp and duration wire formats.
#include "util/time.hpp"

#include <gtest/gtest.h>

namespace valtronics::util {
namespace {

using namespace std::chrono;

TimePoint at(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} +
         milliseconds{ms};
}

TEST(Iso8601, FormatsUtcWithMillisecondsAndZ) {
  EXPECT_EQ(iso8601(at(2024, 1, 1, 12, 0, 0)), "2024-01-01T12:00:00.000Z");
  EXPECT_EQ(iso8601(at(2024, 2, 29, 23, 59, 59, 999)), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(iso8601(TimePoint{}), "1970-01-01T00:00:00.000Z");
}

TEST(Iso8601, TruncatesSubMillisecond) {
  EXPECT_EQ(iso8601(at(2024, 1, 1, 0, 0, 0, 5) + microseconds{999}), "2024-01-01T00:00:00.005Z");
}

TEST(Iso8601, BeforeEpochFloorsToTheRightSecond) {
  EXPECT_EQ(iso8601(TimePoint{} - milliseconds{1}), "1969-12-31T23:59:59.999Z");
}

TEST(ParseIso8601, SpecExampleWithZ) {
  auto t = parse_iso8601("2024-01-01T12:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(2024, 1, 1, 12, 0, 0));
}

TEST(ParseIso8601, NoZoneIsUtc) {
  // What the spec's Python client sends: datetime.utcnow().isoformat().
  auto t = parse_iso8601("2024-01-01T12:00:00.123456");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, at(2024, 1, 1, 12, 0, 0) + microseconds{123456});
}

TEST(ParseIso8601, Fractions) {
  EXPECT_EQ(*parse_iso8601("2024-01-01T00:00:00.5Z"), at(2024, 1, 1, 0, 0, 0, 500));
  EXPECT_EQ(*parse_iso8601("2024-01-01T00:00:00.123Z"), at(2024, 1, 1, 0, 0, 0, 123));
  EXPECT_EQ(*parse_iso8601("2024-01-01T00:00:00,250Z"), at(2024, 1, 1, 0, 0, 0, 250));
  // Digits beyond nanoseconds are accepted and dropped.
  EXPECT_EQ(*parse_iso8601("2024-01-01T00:00:00.1234567891234Z"),
            at(2024, 1, 1, 0, 0, 0) + nanoseconds{123456789});
}

TEST(ParseIso8601, Offsets) {
  EXPECT_EQ(*parse_iso8601("2024-01-01T14:30:00+02:30"), at(2024, 1, 1, 12, 0, 0));
  EXPECT_EQ(*parse_iso8601("2024-01-01T10:00:00-02:00"), at(2024, 1, 1, 12, 0, 0));
  EXPECT_EQ(*parse_iso8601("2024-01-01T12:00:00+00:00"), at(2024, 1, 1, 12, 0, 0));
  EXPECT_EQ(*parse_iso8601("2024-01-01T00:30:00+01:00"), at(2023, 12, 31, 23, 30, 0));
  EXPECT_EQ(*parse_iso8601("2024-01-01T12:00:00z"), at(2024, 1, 1, 12, 0, 0));
}

TEST(ParseIso8601, RoundTripsIso8601) {
  const auto t = at(2031, 7, 15, 8, 9, 10, 11);
  EXPECT_EQ(parse_iso8601(iso8601(t)), t);
}

TEST(ParseIso8601, RejectsMalformed) {
  for (const char* s : {
           "",
           "2024",
           "2024-01-01",
           "2024-01-01 12:00:00Z",
           "2024-01-01T12:00Z",
           "2024-1-01T12:00:00Z",
           "2024-01-01T12:00:00ZZ",
           "2024-01-01T12:00:00.Z",
           "2024-01-01T12:00:00+0200",
           "2024-01-01T12:00:00+02",
           "2024-01-01T12:00:00 ",
           " 2024-01-01T12:00:00Z",
           "2024-13-01T00:00:00Z",
           "2024-00-01T00:00:00Z",
           "2023-02-29T00:00:00Z",
           "2024-04-31T00:00:00Z",
           "2024-01-01T24:00:00Z",
           "2024-01-01T12:60:00Z",
           "2024-01-01T12:00:60Z",
           "2024-01-01T12:00:00+24:00",
           "2024-01-01T12:00:00+01:60",
           "abcd-ef-ghTij:kl:mnZ",
           "2024-01-01T12:00:00.12a",
           "9999-12-31T23:59:59Z",
           "0001-01-01T00:00:00Z",  // outside what system_clock holds
       }) {
    EXPECT_FALSE(parse_iso8601(s)) << s;
  }
}

TEST(ParseIso8601, AcceptsLeapDay) { EXPECT_TRUE(parse_iso8601("2024-02-29T00:00:00Z")); }

TEST(ParseDuration, Units) {
  EXPECT_EQ(parse_duration("500ms"), Millis{500});
  EXPECT_EQ(parse_duration("1s"), Millis{1000});
  EXPECT_EQ(parse_duration("30s"), Millis{30000});
  EXPECT_EQ(parse_duration("5m"), Millis{300000});
  EXPECT_EQ(parse_duration("1h"), Millis{3600000});
  EXPECT_EQ(parse_duration("7d"), Millis{7 * 86400000LL});
  EXPECT_EQ(parse_duration("1ms"), Millis{1});
}

TEST(ParseDuration, RejectsEverythingElse) {
  for (const char* s :
       {"",    "0s",  "0ms", "-1s",  "+1s", "1.5s", "1",    "s",         "ms",    "1 s",
        " 1s", "1s ", "1S",  "1sec", "1w",  "1us",  "1msx", "real-time", "1e3ms", "0x10s"}) {
    EXPECT_FALSE(parse_duration(s)) << s;
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_FALSE(parse_duration("99999999999999999999ms"));
  EXPECT_FALSE(parse_duration("9223372036854775807h"));
  EXPECT_EQ(parse_duration("9223372036854775807ms"), Millis{9223372036854775807LL});
  EXPECT_FALSE(parse_duration("9223372036854775808ms"));
}

TEST(FormatDuration, LargestExactUnit) {
  EXPECT_EQ(format_duration(Millis{30000}), "30s");
  EXPECT_EQ(format_duration(Millis{1500}), "1500ms");
  EXPECT_EQ(format_duration(Millis{500}), "500ms");
  EXPECT_EQ(format_duration(Millis{300000}), "5m");
  EXPECT_EQ(format_duration(Millis{86400000}), "1d");
  EXPECT_EQ(format_duration(Millis{90000}), "90s");
  EXPECT_EQ(format_duration(Millis{7200000}), "2h");
  EXPECT_EQ(format_duration(Millis{5400000}), "90m");
  EXPECT_EQ(format_duration(Millis{0}), "0ms");
}

TEST(FormatDuration, RoundTripsParseDuration) {
  for (const char* s : {"100ms", "1s", "45s", "5m", "1h", "1001ms", "61s"}) {
    auto d = parse_duration(s);
    ASSERT_TRUE(d) << s;
    EXPECT_EQ(format_duration(*d), s);
  }
  EXPECT_EQ(format_duration(*parse_duration("60s")), "1m");
  EXPECT_EQ(format_duration(*parse_duration("1000ms")), "1s");
}

}  // namespace
}  // namespace valtronics::util
