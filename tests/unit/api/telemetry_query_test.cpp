// Unit tests of api/telemetry_query (issue 14): intervals and their alignment to the epoch (1d at
// UTC midnight), aggregations, time parameters (fractions, bad values), range defaults, and the
// history request's checks, each error naming its parameter.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "api/telemetry_query.hpp"

namespace valtronics::api::telemetry_query {
namespace {

constexpr std::int64_t kMin = 60'000;
constexpr std::int64_t kDay0 = 1'796'601'600'000;  // 2026-12-07T00:00:00Z

QueryParams params(std::vector<std::pair<std::string, std::string>> items) {
  QueryParams q;
  for (auto& [k, v] : items) q.add(k, v);
  return q;
}

TEST(TelemetryQuery, IntervalsAreTheListedOnesOnly) {
  EXPECT_EQ(interval_ms("1m"), kMin);
  EXPECT_EQ(interval_ms("5m"), 5 * kMin);
  EXPECT_EQ(interval_ms("15m"), 15 * kMin);
  EXPECT_EQ(interval_ms("1h"), 60 * kMin);
  EXPECT_EQ(interval_ms("6h"), 360 * kMin);
  EXPECT_EQ(interval_ms("1d"), 1440 * kMin);
  for (const char* bad : {"", "2m", "1M", "60s", "1 m", "1d ", "1w", "m"})
    EXPECT_FALSE(interval_ms(bad)) << bad;
}

TEST(TelemetryQuery, BucketsAreAlignedToTheEpoch) {
  EXPECT_EQ(bucket_start(kDay0, kMin), kDay0);
  EXPECT_EQ(bucket_start(kDay0 + kMin - 1, kMin), kDay0);
  EXPECT_EQ(bucket_start(kDay0 + kMin, kMin), kDay0 + kMin);
  EXPECT_EQ(bucket_start(kDay0 + 7 * kMin + 5, 5 * kMin), kDay0 + 5 * kMin);
  EXPECT_EQ(bucket_start(kDay0 + 14 * kMin, 15 * kMin), kDay0);
  // 6h buckets start at 00:00, 06:00, 12:00, 18:00 UTC; 1d at UTC midnight.
  EXPECT_EQ(bucket_start(kDay0 + 13 * 60 * kMin, 360 * kMin), kDay0 + 12 * 60 * kMin);
  EXPECT_EQ(bucket_start(kDay0 + 23 * 60 * kMin + 59 * kMin, 1440 * kMin), kDay0);
  EXPECT_EQ(bucket_start(kDay0 - 1, 1440 * kMin), kDay0 - 1440 * kMin);
  // Before 1970: floor, not truncation toward zero.
  EXPECT_EQ(bucket_start(-1, kMin), -kMin);
  EXPECT_EQ(bucket_start(-kMin, kMin), -kMin);
  EXPECT_EQ(bucket_start(0, kMin), 0);
}

TEST(TelemetryQuery, AggregationsAndTheirValues) {
  store::HistoryBucket b{kDay0, 4, 10, -1.5, 6.25};
  EXPECT_DOUBLE_EQ(value_of(b, *aggregation_from("avg")), 2.5);
  EXPECT_DOUBLE_EQ(value_of(b, *aggregation_from("min")), -1.5);
  EXPECT_DOUBLE_EQ(value_of(b, *aggregation_from("max")), 6.25);
  EXPECT_DOUBLE_EQ(value_of(b, *aggregation_from("count")), 4);
  EXPECT_DOUBLE_EQ(value_of(b, *aggregation_from("sum")), 10);
  for (const char* name : {"avg", "min", "max", "count", "sum"})
    EXPECT_EQ(to_string(*aggregation_from(name)), name);
  for (const char* bad : {"", "mean", "AVG", "median", "avg,min"})
    EXPECT_FALSE(aggregation_from(bad)) << bad;
  EXPECT_EQ(export_format_from("csv"), ExportFormat::csv);
  EXPECT_EQ(export_format_from("json"), ExportFormat::json);
  EXPECT_FALSE(export_format_from("xml"));
  EXPECT_FALSE(export_format_from("CSV"));
}

TEST(TelemetryQuery, TimesAreIsoUtcCutToTheMillisecond) {
  auto t = parse_time(params({{"start", "2026-12-07T10:00:00Z"}}), "start");
  ASSERT_TRUE(t);
  EXPECT_EQ(**t, kDay0 + 600 * kMin);
  t = parse_time(params({{"start", "2026-12-07T10:00:00.123456Z"}}), "start");
  ASSERT_TRUE(t);
  EXPECT_EQ(**t, kDay0 + 600 * kMin + 123);
  t = parse_time(params({}), "start");
  ASSERT_TRUE(t);
  EXPECT_FALSE(*t);
  for (const char* bad : {"", "yesterday", "2026-13-07T10:00:00Z", "1796601600000",
                          "2026-12-07 10:00:00Z"}) {
    auto r = parse_time(params({{"end", bad}}), "end");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "end");
  }
}

TEST(TelemetryQuery, RangesDefaultAndMustNotBeEmpty) {
  const std::int64_t now = kDay0 + 123'456;
  auto r = parse_range(params({}), now, 24 * 60 * kMin);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->end_ms, now);
  EXPECT_EQ(*r->start_ms, now - 24 * 60 * kMin);
  r = parse_range(params({}), now, std::nullopt);  // the raw list: unbounded start
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->start_ms);
  r = parse_range(params({{"end", "2026-12-07T01:00:00Z"}}), now, 60 * kMin);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->start_ms, kDay0);
  for (const char* start : {"2026-12-07T01:00:00Z", "2026-12-07T02:00:00Z"}) {
    auto bad = parse_range(params({{"start", start}, {"end", "2026-12-07T01:00:00Z"}}), now,
                           std::nullopt);
    ASSERT_FALSE(bad) << start;
    EXPECT_EQ(bad.error().field, "start");
  }
}

TEST(TelemetryQuery, HistoryRequestsAreCheckedParameterByParameter) {
  const std::int64_t now = kDay0 + 5 * kMin + 7;
  auto ok = parse_history(params({{"device_id", "3"}, {"metric_name", "temperature"}}), now);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->device_id, 3);
  EXPECT_EQ(ok->metric, "temperature");
  EXPECT_EQ(ok->interval, "1m");
  EXPECT_EQ(ok->interval_ms, kMin);
  EXPECT_EQ(ok->aggregation, Aggregation::avg);
  EXPECT_EQ(ok->end_ms, now);
  EXPECT_EQ(ok->start_ms, now - 24 * 60 * kMin);

  struct Case {
    std::vector<std::pair<std::string, std::string>> q;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"metric_name", "t"}}, "device_id"},
      {{{"device_id", "0"}, {"metric_name", "t"}}, "device_id"},
      {{{"device_id", "1,2"}, {"metric_name", "t"}}, "device_id"},
      {{{"device_id", "x"}, {"metric_name", "t"}}, "device_id"},
      {{{"device_id", "1"}}, "metric_name"},
      {{{"device_id", "1"}, {"metric_name", "Bad Name"}}, "metric_name"},
      {{{"device_id", "1"}, {"metric_name", "t"}, {"interval", "2m"}}, "interval"},
      {{{"device_id", "1"}, {"metric_name", "t"}, {"aggregation", "median"}}, "aggregation"},
      {{{"device_id", "1"}, {"metric_name", "t"}, {"start", "soon"}}, "start"},
      {{{"device_id", "1"}, {"metric_name", "t"}, {"end", "later"}}, "end"},
      {{{"device_id", "1"},
        {"metric_name", "t"},
        {"start", "2026-12-07T10:00:00Z"},
        {"end", "2026-12-07T10:00:00Z"}},
       "start"},
      // A year in 1-minute buckets is more than kMaxBuckets.
      {{{"device_id", "1"},
        {"metric_name", "t"},
        {"start", "2025-12-07T10:00:00Z"},
        {"end", "2026-12-07T10:00:00Z"}},
       "interval"},
  };
  for (const auto& c : cases) {
    auto r = parse_history(params(c.q), now);
    ASSERT_FALSE(r) << c.field;
    EXPECT_EQ(r.error().field, c.field);
    EXPECT_NE(r.error().message.find(c.field == "interval" && c.q.size() == 4 ? "buckets"
                                                                              : c.field),
              std::string::npos)
        << r.error().message;
  }
  // The same year in 1d buckets is fine.
  auto year = parse_history(params({{"device_id", "1"},
                                    {"metric_name", "t"},
                                    {"interval", "1d"},
                                    {"aggregation", "count"},
                                    {"start", "2025-12-07T10:00:00Z"},
                                    {"end", "2026-12-07T10:00:00Z"}}),
                            now);
  ASSERT_TRUE(year);
  EXPECT_EQ(year->aggregation, Aggregation::count);
}

}  // namespace
}  // namespace valtronics::api::telemetry_query
