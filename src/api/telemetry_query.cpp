// Parameters of the telemetry history routes (see telemetry_query.hpp).
#include "api/telemetry_query.hpp"

#include <array>
#include <chrono>
#include <limits>
#include <utility>

#include "api/body_fields.hpp"
#include "util/time.hpp"

namespace valtronics::api::telemetry_query {

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::array<std::pair<std::string_view, std::int64_t>, 6> kIntervalTable{{
    {"1m", kMinute},
    {"5m", 5 * kMinute},
    {"15m", 15 * kMinute},
    {"1h", 60 * kMinute},
    {"6h", 360 * kMinute},
    {"1d", 1440 * kMinute},
}};
constexpr std::array<std::pair<std::string_view, Aggregation>, 5> kAggregationTable{{
    {"avg", Aggregation::avg},
    {"min", Aggregation::min},
    {"max", Aggregation::max},
    {"count", Aggregation::count},
    {"sum", Aggregation::sum},
}};

std::string echo(std::string_view v) {
  // Client text in a message: cut, so that an error stays small.
  return v.size() > 40 ? std::string(v.substr(0, 40)) + "..." : std::string(v);
}

}  // namespace

std::optional<std::int64_t> interval_ms(std::string_view name) {
  for (const auto& [n, ms] : kIntervalTable)
    if (n == name) return ms;
  return std::nullopt;
}

std::int64_t bucket_start(std::int64_t ms, std::int64_t width) {
  return ms - ((ms % width) + width) % width;
}

std::optional<Aggregation> aggregation_from(std::string_view name) {
  for (const auto& [n, a] : kAggregationTable)
    if (n == name) return a;
  return std::nullopt;
}

std::string_view to_string(Aggregation a) {
  for (const auto& [n, x] : kAggregationTable)
    if (x == a) return n;
  return "avg";
}

double value_of(const store::HistoryBucket& b, Aggregation a) {
  switch (a) {
    case Aggregation::avg: return b.count ? b.sum / static_cast<double>(b.count) : 0.0;
    case Aggregation::min: return b.min;
    case Aggregation::max: return b.max;
    case Aggregation::count: return static_cast<double>(b.count);
    case Aggregation::sum: return b.sum;
  }
  return 0.0;
}

std::optional<ExportFormat> export_format_from(std::string_view name) {
  if (name == "csv") return ExportFormat::csv;
  if (name == "json") return ExportFormat::json;
  return std::nullopt;
}

model::Result<std::optional<std::int64_t>> parse_time(const QueryParams& q, std::string_view name) {
  auto v = q.get(name);
  if (!v) return std::optional<std::int64_t>();
  auto t = util::parse_iso8601(*v);
  if (!t)
    return model::invalid(std::string(name),
                          std::string(name) +
                              " must be an ISO 8601 UTC timestamp such as 2026-12-07T10:00:00Z "
                              "(got '" + echo(*v) + "')");
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t->time_since_epoch()).count();
  return std::optional<std::int64_t>(ms);
}

model::Result<Range> parse_range(const QueryParams& q, std::int64_t now_ms,
                                 std::optional<std::int64_t> default_span_ms) {
  auto start = parse_time(q, "start");
  if (!start) return start.error();
  auto end = parse_time(q, "end");
  if (!end) return end.error();
  Range r;
  r.end_ms = end->value_or(now_ms);
  r.start_ms = *start;
  if (!r.start_ms && default_span_ms) r.start_ms = r.end_ms - *default_span_ms;
  if (r.start_ms && *r.start_ms >= r.end_ms)
    return model::invalid("start", "start must be before end (start is inclusive, end exclusive)");
  return r;
}

model::Result<std::int64_t> parse_device_id(const QueryParams& q) {
  auto v = q.get("device_id");
  if (!v || v->empty()) return model::invalid("device_id", "device_id is required");
  auto id = parse_int_param("device_id", *v, 1, std::numeric_limits<std::int64_t>::max());
  if (!id) return model::invalid("device_id", "device_id must be one positive integer");
  return *id;
}

model::Result<std::string> parse_metric(const QueryParams& q, bool required) {
  auto v = q.get("metric_name");
  if (!v) {
    if (required) return model::invalid("metric_name", "metric_name is required");
    return std::string();
  }
  if (!body::valid_metric_name(*v))
    return model::invalid("metric_name",
                          "metric_name must be 1-64 of a-z 0-9 _ . - (got '" + echo(*v) + "')");
  return std::string(*v);
}

model::Result<HistoryRequest> parse_history(const QueryParams& q, std::int64_t now_ms) {
  HistoryRequest h;
  auto device = parse_device_id(q);
  if (!device) return device.error();
  h.device_id = *device;
  auto metric = parse_metric(q, true);
  if (!metric) return metric.error();
  h.metric = std::move(*metric);
  auto range = parse_range(q, now_ms, kDefaultSpanMs);
  if (!range) return range.error();
  h.start_ms = *range->start_ms;
  h.end_ms = range->end_ms;
  h.interval = std::string(q.get("interval").value_or("1m"));
  auto width = interval_ms(h.interval);
  if (!width)
    return model::invalid("interval", "interval must be one of " + std::string(kIntervals) +
                                          " (got '" + echo(h.interval) + "')");
  h.interval_ms = *width;
  const std::string agg(q.get("aggregation").value_or("avg"));
  auto a = aggregation_from(agg);
  if (!a)
    return model::invalid("aggregation", "aggregation must be one of " +
                                             std::string(kAggregations) + " (got '" + echo(agg) +
                                             "')");
  h.aggregation = *a;
  const std::int64_t buckets =
      (bucket_start(h.end_ms - 1, h.interval_ms) - bucket_start(h.start_ms, h.interval_ms)) /
          h.interval_ms +
      1;
  if (buckets > kMaxBuckets)
    return model::invalid("interval", "the range holds " + std::to_string(buckets) + " buckets of " +
                                          h.interval + "; at most " +
                                          std::to_string(kMaxBuckets) +
                                          " are answered: take a larger interval or a shorter "
                                          "range");
  return h;
}

}  // namespace valtronics::api::telemetry_query
