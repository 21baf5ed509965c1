// The parameters of the telemetry history routes (issue 14; docs/telemetry.md), parsed without
// IO: times, ranges, intervals and bucket alignment, aggregations, export formats. Each error
// is a model::DomainError `invalid` naming the parameter (400 VALIDATION_ERROR).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/query.hpp"
#include "model/errors.hpp"
#include "store/repositories.hpp"

namespace valtronics::api::telemetry_query {

// A raw list's page size may reach this (the REST lists' 100 is too few for a chart's points).
inline constexpr std::size_t kMaxRawPageSize = 1000;
// history and export without `start`: this long before `end`.
inline constexpr std::int64_t kDefaultSpanMs = 24LL * 3'600'000;
// A series has at most this many buckets ((end - start) / interval, rounded up); more is a 400
// naming `interval` (a year at 1m would be 525 600 points).
inline constexpr std::int64_t kMaxBuckets = 50'000;

// "1m", "5m", "15m", "1h", "6h", "1d" in milliseconds; nullopt for anything else.
std::optional<std::int64_t> interval_ms(std::string_view name);
inline constexpr std::string_view kIntervals = "1m, 5m, 15m, 1h, 6h, 1d";

// The start of the bucket of `width` ms holding `ms`: the largest multiple of `width` since the
// Unix epoch not after it (floor, also before 1970). 1d buckets start at UTC midnight.
std::int64_t bucket_start(std::int64_t ms, std::int64_t width);

enum class Aggregation { avg, min, max, count, sum };
std::optional<Aggregation> aggregation_from(std::string_view name);
std::string_view to_string(Aggregation a);
inline constexpr std::string_view kAggregations = "avg, min, max, count, sum";
// A bucket's value under `a` (avg: sum / count).
double value_of(const store::HistoryBucket& b, Aggregation a);

enum class ExportFormat { csv, json };
std::optional<ExportFormat> export_format_from(std::string_view name);

// A timestamp parameter: ISO 8601 (UTC with `Z`; fractional seconds allowed, cut to the
// millisecond), in milliseconds since the epoch. Absent: nullopt. Anything else: invalid naming
// `name`.
model::Result<std::optional<std::int64_t>> parse_time(const QueryParams& q, std::string_view name);

// `start` and `end` ([start, end)): end defaults to `now_ms`; start to end - `default_span_ms`
// when given, else unbounded. start >= end is invalid naming `start`.
struct Range {
  std::optional<std::int64_t> start_ms{};
  std::int64_t end_ms = 0;
};
model::Result<Range> parse_range(const QueryParams& q, std::int64_t now_ms,
                                 std::optional<std::int64_t> default_span_ms);

// A required single device id (device_id=N): missing or not a positive integer is invalid.
model::Result<std::int64_t> parse_device_id(const QueryParams& q);
// A required metric name (metric_name=...): 1-64 of a-z 0-9 _ . - as ingest takes them.
model::Result<std::string> parse_metric(const QueryParams& q, bool required);

// What GET /api/v1/telemetry/history asks, checked: device, metric, range, interval,
// aggregation, and the bucket count within kMaxBuckets.
struct HistoryRequest {
  std::int64_t device_id = 0;
  std::string metric{};
  std::int64_t start_ms = 0, end_ms = 0;
  std::string interval{};  // its name, as answered
  std::int64_t interval_ms = 0;
  Aggregation aggregation = Aggregation::avg;
};
model::Result<HistoryRequest> parse_history(const QueryParams& q, std::int64_t now_ms);

}  // namespace valtronics::api::telemetry_query
