// Unit tests of the telemetry history reads (issue 14) against a real temporary SQLite file (and,
// as `postgres.StoreRepositoriesHistory.*`, a real PostgreSQL): the per-minute rollups that
// append_history keeps equal what the raw readings give for every interval and aggregation,
// bucket boundaries ([start, end), partial edge minutes, empty buckets left out, before 1970),
// the backfill of schema version 3, pruning of rollups, and the raw list's order and filters.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "store/migrations.hpp"
#include "store/repositories.hpp"
#include "store/sql.hpp"
#include "support/temp_db_file.hpp"

namespace valtronics::store {
namespace {

using model::MetricValue;

constexpr std::int64_t kMin = 60'000;
constexpr std::int64_t kHour = 60 * kMin;
// 2026-12-07T00:00:00Z: a UTC midnight, hence the start of a bucket of every interval.
constexpr std::int64_t kDay0 = 1'796'601'600'000;

util::TimePoint at_ms(std::int64_t ms) { return util::TimePoint{std::chrono::milliseconds{ms}}; }

MetricValue reading(std::int64_t device, const std::string& metric, double value,
                    std::int64_t ms) {
  return MetricValue{device, metric, value, "", at_ms(ms)};
}

// What a bucket holds, computed here from the readings themselves.
struct Expected {
  std::int64_t count = 0;
  double sum = 0, min = std::numeric_limits<double>::infinity(),
         max = -std::numeric_limits<double>::infinity();
};

std::int64_t floor_to(std::int64_t ms, std::int64_t width) {
  std::int64_t q = ms / width;
  if (ms % width != 0 && ms < 0) --q;
  return q * width;
}

std::map<std::int64_t, Expected> expected_buckets(const std::vector<MetricValue>& all,
                                                  std::int64_t device, const std::string& metric,
                                                  std::int64_t start, std::int64_t end,
                                                  std::int64_t width) {
  std::map<std::int64_t, Expected> out;
  for (const auto& r : all) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(r.timestamp.time_since_epoch())
            .count();
    if (r.device_id != device || r.metric != metric || ms < start || ms >= end) continue;
    auto& e = out[floor_to(ms, width)];
    ++e.count;
    e.sum += r.value;
    e.min = std::min(e.min, r.value);
    e.max = std::max(e.max, r.value);
  }
  return out;
}

class StoreRepositoriesHistory : public ::testing::Test {
 protected:
  void SetUp() override {
    db_.emplace(Database::open(file_.str()));
    migrate(*db_);
  }
  Database& db() { return *db_; }

  // Appends in several batches, as the writer does: a minute's rollup is built over batches.
  void append(const std::vector<MetricValue>& values, std::size_t batch) {
    for (std::size_t i = 0; i < values.size(); i += batch) {
      const auto n = std::min(batch, values.size() - i);
      append_history(db(), std::span<const MetricValue>(values.data() + i, n));
    }
    all_.insert(all_.end(), values.begin(), values.end());
  }

  void expect_matches(std::int64_t device, const std::string& metric, std::int64_t start,
                      std::int64_t end, std::int64_t width) {
    SCOPED_TRACE("start " + std::to_string(start - kDay0) + " end " +
                 std::to_string(end - kDay0) + " width " + std::to_string(width));
    auto want = expected_buckets(all_, device, metric, start, end, width);
    auto got = history_buckets(db(), device, metric, start, end, width);
    ASSERT_EQ(got.size(), want.size());
    std::size_t i = 0;
    for (const auto& [at, e] : want) {
      const auto& b = got[i++];
      EXPECT_EQ(b.start_ms, at);
      EXPECT_EQ(b.count, e.count);
      EXPECT_DOUBLE_EQ(b.sum, e.sum);  // values are multiples of 0.25: exact sums
      EXPECT_DOUBLE_EQ(b.min, e.min);
      EXPECT_DOUBLE_EQ(b.max, e.max);
    }
  }

  std::int64_t count(const char* sql) {
    Statement st = db().prepare(sql);
    return st.step() ? st.column_int(0) : -1;
  }

  TempDbFile file_;
  std::optional<Database> db_;
  std::vector<MetricValue> all_;
};

TEST_F(StoreRepositoriesHistory, RollupsGiveWhatTheReadingsGiveForEveryInterval) {
  // Two days of one metric every 7 s (values in quarters, some negative), another metric and
  // another device interleaved, written in batches of 333 that cut minutes in two.
  std::vector<MetricValue> values;
  for (std::int64_t t = kDay0 - 5 * kHour; t < kDay0 + 43 * kHour; t += 7'000) {
    const double v = static_cast<double>((t / 7'000) % 97) * 0.25 - 8;
    values.push_back(reading(1, "temperature", v, t));
    if ((t / 7'000) % 3 == 0) values.push_back(reading(1, "humidity", v * 2, t + 1));
    if ((t / 7'000) % 5 == 0) values.push_back(reading(2, "temperature", -v, t + 2));
  }
  append(values, 333);
  const std::int64_t widths[] = {kMin, 5 * kMin, 15 * kMin, kHour, 6 * kHour, 24 * kHour};
  for (std::int64_t w : widths) {
    expect_matches(1, "temperature", kDay0, kDay0 + 24 * kHour, w);  // aligned
    expect_matches(1, "temperature", kDay0 - 3 * kHour + 12'345, kDay0 + 30 * kHour - 4'321, w);
    expect_matches(1, "humidity", kDay0 + 17'000, kDay0 + 2 * kHour, w);
    expect_matches(2, "temperature", kDay0 - 5 * kHour, kDay0 + 43 * kHour, w);
  }
  // Inside one minute: only raw readings.
  expect_matches(1, "temperature", kDay0 + 10'000, kDay0 + 50'000, kMin);
  // Nothing of another series.
  EXPECT_TRUE(history_buckets(db(), 3, "temperature", kDay0, kDay0 + kHour, kMin).empty());
  EXPECT_TRUE(history_buckets(db(), 1, "pressure", kDay0, kDay0 + kHour, kMin).empty());
  // One rollup row per (device, metric, minute) however many batches wrote to it.
  EXPECT_EQ(count("SELECT COUNT(*) FROM (SELECT device_id, metric, minute FROM telemetry_minutes "
                  "GROUP BY device_id, metric, minute HAVING COUNT(*) > 1) dup"),
            0);
  EXPECT_EQ(count("SELECT SUM(n) FROM telemetry_minutes"),
            count("SELECT COUNT(*) FROM telemetry_history"));
}

TEST_F(StoreRepositoriesHistory, BucketBoundariesAreStartInclusiveEndExclusive) {
  const std::int64_t start = kDay0 + 10 * kMin, end = kDay0 + 25 * kMin;  // 5m buckets: 3
  append({reading(1, "m", 1, start - 1),             // before start: out
          reading(1, "m", 2, start),                 // at the first bucket's start
          reading(1, "m", 4, start + 5 * kMin - 1),  // the first bucket's last ms
          reading(1, "m", 8, start + 5 * kMin),      // the second bucket's start
          // nothing in [start + 10 min, end): that bucket is left out
          reading(1, "m", 16, end - 1 - 5 * kMin),  // second bucket, last ms
          reading(1, "m", 32, end),                 // exactly at end: out
          reading(1, "m", 64, end + 1)},
         2);
  auto got = history_buckets(db(), 1, "m", start, end, 5 * kMin);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].start_ms, start);
  EXPECT_EQ(got[0].count, 2);
  EXPECT_DOUBLE_EQ(got[0].sum, 6);
  EXPECT_DOUBLE_EQ(got[0].min, 2);
  EXPECT_DOUBLE_EQ(got[0].max, 4);
  EXPECT_EQ(got[1].start_ms, start + 5 * kMin);
  EXPECT_EQ(got[1].count, 2);
  EXPECT_DOUBLE_EQ(got[1].sum, 24);
  // A reading at end - 1 ms is in; a range ending 1 ms later takes the one at `end`.
  append({reading(1, "m", 128, end + 7 * kMin)}, 1);
  auto wider = history_buckets(db(), 1, "m", start, end + 1, 5 * kMin);
  ASSERT_EQ(wider.size(), 3u);
  EXPECT_EQ(wider[2].start_ms, end);
  EXPECT_EQ(wider[2].count, 1);
  EXPECT_DOUBLE_EQ(wider[2].sum, 32);
  // Start and end inside minutes (partial edge minutes read from the raw readings).
  expect_matches(1, "m", start - 1, end + 1, kMin);
  expect_matches(1, "m", start + 1, end - 1, 5 * kMin);
  expect_matches(1, "m", start - 30'000, end + 8 * kMin - 1, 15 * kMin);
  EXPECT_TRUE(history_buckets(db(), 1, "m", end, end, kMin).empty());
}

TEST_F(StoreRepositoriesHistory, BucketsBeforeTheEpochAreFloored) {
  append({reading(1, "m", 1, -1), reading(1, "m", 3, -60'000), reading(1, "m", 5, 0)}, 3);
  auto got = history_buckets(db(), 1, "m", -2 * kMin, kMin, kMin);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].start_ms, -kMin);
  EXPECT_EQ(got[0].count, 2);
  EXPECT_EQ(got[1].start_ms, 0);
  EXPECT_EQ(got[1].count, 1);
  EXPECT_EQ(count("SELECT MIN(minute) FROM telemetry_minutes"), -kMin);
}

TEST_F(StoreRepositoriesHistory, SchemaThreeFoldsTheReadingsAlreadyStored) {
  TempDbFile old_file;
  {
    Database old = Database::open(old_file.str());
    const bool pg = old.dialect() == Dialect::postgresql;
    old.exec(pg ? sql::pg::kSchemaV1 : sql::kSchemaV1);
    old.exec(pg ? sql::pg::kSchemaV2 : sql::kSchemaV2);
    set_schema_version(old, 2);
    // Version 2 wrote readings only.
    old.exec("INSERT INTO telemetry_history (device_id, metric, value, ts) VALUES "
             "(1, 'm', 1.5, 1796601600000), (1, 'm', 2.5, 1796601659999), "
             "(1, 'm', -4, 1796601660000), (2, 'm', 9, 1796601600001), (1, 'x', 7, -1)");
  }
  Database db = Database::open(old_file.str());
  migrate(db);
  EXPECT_EQ(schema_version(db), latest_schema_version());
  auto got = history_buckets(db, 1, "m", kDay0, kDay0 + 2 * kMin, kMin);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].count, 2);
  EXPECT_DOUBLE_EQ(got[0].sum, 4);
  EXPECT_DOUBLE_EQ(got[0].min, 1.5);
  EXPECT_DOUBLE_EQ(got[0].max, 2.5);
  EXPECT_EQ(got[1].count, 1);
  EXPECT_DOUBLE_EQ(got[1].min, -4);
  // New readings add to the backfilled minute.
  append_history(db, std::vector<MetricValue>{reading(1, "m", 10, kDay0 + 30'000)});
  got = history_buckets(db, 1, "m", kDay0, kDay0 + kMin, kMin);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].count, 3);
  EXPECT_DOUBLE_EQ(got[0].max, 10);
  EXPECT_EQ(history_buckets(db, 1, "x", -kMin, 0, kMin).size(), 1u);
}

TEST_F(StoreRepositoriesHistory, RollupsArePrunedOnlyOnceTheirMinuteEnded) {
  std::vector<MetricValue> values;
  for (std::int64_t m = 0; m < 10; ++m) values.push_back(reading(1, "m", 1, kDay0 + m * kMin + 5));
  append(values, 10);
  // Cut at minute 4 + 30 s: minutes 0-3 ended before it and go; minute 4 (its reading at +5 ms
  // is older than the cut) is kept whole until the minute ended.
  const auto cut = at_ms(kDay0 + 4 * kMin + 30'000);
  EXPECT_EQ(prune_history_minutes(db(), cut, 2), 2u);  // a batch of at most 2
  EXPECT_EQ(prune_history_minutes(db(), cut, 10), 2u);
  EXPECT_EQ(prune_history_minutes(db(), cut, 10), 0u);
  EXPECT_EQ(count("SELECT MIN(minute) FROM telemetry_minutes"), kDay0 + 4 * kMin);
  EXPECT_EQ(count("SELECT COUNT(*) FROM telemetry_minutes"), 6);
  // A deleted device's rollups go with its readings.
  append({reading(5, "m", 1, kDay0)}, 1);
  ASSERT_EQ(count("SELECT COUNT(*) FROM telemetry_minutes WHERE device_id = 5"), 1);
  delete_device(db(), 5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM telemetry_minutes WHERE device_id = 5"), 0);
}

TEST_F(StoreRepositoriesHistory, RawListsAreNewestFirstFilteredAndPaged) {
  append({reading(1, "a", 1, kDay0 + 1000), reading(1, "b", 2, kDay0 + 1000),
          reading(2, "a", 3, kDay0 + 2000), reading(1, "a", 4, kDay0 + 3000),
          reading(3, "a", 5, kDay0 + 4000)},
         5);
  HistoryFilter all;
  auto rows = list_history(db(), all, true, 10, 0);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_DOUBLE_EQ(rows[0].value, 5);
  EXPECT_DOUBLE_EQ(rows[1].value, 4);
  EXPECT_DOUBLE_EQ(rows[2].value, 3);
  EXPECT_DOUBLE_EQ(rows[3].value, 1);  // same ts: device, then metric
  EXPECT_DOUBLE_EQ(rows[4].value, 2);
  EXPECT_EQ(count_history(db(), all), 5);
  auto page2 = list_history(db(), all, true, 2, 2);
  ASSERT_EQ(page2.size(), 2u);
  EXPECT_DOUBLE_EQ(page2[0].value, 3);
  EXPECT_EQ(page2[0].device_id, 2);
  EXPECT_EQ(page2[0].metric, "a");
  EXPECT_EQ(page2[0].timestamp, at_ms(kDay0 + 2000));
  auto oldest = list_history(db(), all, false, 1, 0);
  ASSERT_EQ(oldest.size(), 1u);
  EXPECT_DOUBLE_EQ(oldest[0].value, 1);

  HistoryFilter f;
  f.device_ids = {1, 3};
  f.metric = "a";
  f.start_ms = kDay0 + 1000;  // inclusive
  f.end_ms = kDay0 + 4000;    // exclusive
  rows = list_history(db(), f, true, 10, 0);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].value, 4);
  EXPECT_DOUBLE_EQ(rows[1].value, 1);
  EXPECT_EQ(count_history(db(), f), 2);
  EXPECT_TRUE(device_exists(db(), 1) == false);  // readings do not make a device
}

// Exports every reading of `f` in pieces of `piece` rows, as the export route does.
std::vector<MetricValue> export_all(Database& db, const HistoryFilter& f, std::size_t piece,
                                    std::size_t* pieces = nullptr) {
  std::vector<MetricValue> out;
  ExportCursor cursor;
  for (std::size_t n = 0;; ++n) {
    auto rows = export_history(db, f, cursor, piece);
    EXPECT_LE(rows.size(), piece);
    out.insert(out.end(), rows.begin(), rows.end());
    if (rows.size() < piece) {
      if (pieces) *pieces = n + 1;
      EXPECT_TRUE(export_history(db, f, cursor, piece).empty());  // stays at its end
      return out;
    }
    if (n > 10'000) {
      ADD_FAILURE() << "the export does not end";
      return out;
    }
  }
}

// What an export of `f` must give, computed here: by device, metric, ts, then value.
std::vector<MetricValue> expected_export(std::vector<MetricValue> all, const HistoryFilter& f) {
  std::erase_if(all, [&](const MetricValue& r) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(r.timestamp.time_since_epoch())
            .count();
    if (!f.device_ids.empty() &&
        std::find(f.device_ids.begin(), f.device_ids.end(), r.device_id) == f.device_ids.end())
      return true;
    if (f.metric && r.metric != *f.metric) return true;
    if (f.start_ms && ms < *f.start_ms) return true;
    return f.end_ms && ms >= *f.end_ms;
  });
  std::sort(all.begin(), all.end(), [](const MetricValue& a, const MetricValue& b) {
    return std::tie(a.device_id, a.metric, a.timestamp, a.value) <
           std::tie(b.device_id, b.metric, b.timestamp, b.value);
  });
  return all;
}

void expect_same_rows(const std::vector<MetricValue>& got, const std::vector<MetricValue>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].device_id, want[i].device_id) << "row " << i;
    EXPECT_EQ(got[i].metric, want[i].metric) << "row " << i;
    EXPECT_EQ(got[i].timestamp, want[i].timestamp) << "row " << i;
    EXPECT_DOUBLE_EQ(got[i].value, want[i].value) << "row " << i;
  }
}

// Pieces of any size neither skip nor repeat a reading, also where a piece ends among readings
// of one ts (here up to three per series and ts, two of them equal), at a series' last reading
// or between series; every filter applies; device ids of a filter come out in id order.
TEST_F(StoreRepositoriesHistory, ExportWalksEachSeriesInOrderInPiecesOfAnySize) {
  std::vector<MetricValue> all;
  for (std::int64_t device : {7, 2, 5})
    for (const char* metric : {"temp", "a", "humidity"}) {
      if (device == 5 && std::string(metric) == "a") continue;  // a device without one metric
      for (std::int64_t i = 0; i < 9; ++i) {
        const std::int64_t ms = kDay0 - 3 * kMin + i * 30'000;  // across midnight
        all.push_back(reading(device, metric, double(device * 100 + i), ms));
        if (i % 3 == 0) {
          all.push_back(reading(device, metric, -1.5, ms));
          all.push_back(reading(device, metric, -1.5, ms));
        }
      }
    }
  append(all, 50);

  HistoryFilter every;
  HistoryFilter some;
  some.device_ids = {7, 5, 3};  // 3 has no readings
  some.start_ms = kDay0 - 2 * kMin;  // inclusive
  some.end_ms = kDay0 + kMin;        // exclusive
  HistoryFilter one_metric = some;
  one_metric.metric = "a";           // 5 never reported it
  HistoryFilter metric_everywhere;
  metric_everywhere.metric = "humidity";
  HistoryFilter nothing;
  nothing.device_ids = {4};

  for (const HistoryFilter* f : {&every, &some, &one_metric, &metric_everywhere, &nothing}) {
    const auto want = expected_export(all, *f);
    for (std::size_t piece : {1u, 2u, 3u, 4u, 7u, 11u, 1000u}) {
      SCOPED_TRACE(testing::Message() << "piece " << piece << ", " << want.size() << " rows");
      expect_same_rows(export_all(db(), *f, piece), want);
    }
  }
  std::size_t pieces = 0;
  EXPECT_EQ(export_all(db(), every, all.size(), &pieces).size(), all.size());
  EXPECT_EQ(pieces, 2u);  // a full piece, then an empty one that ends it
  EXPECT_TRUE(export_all(db(), nothing, 5).empty());
}

}  // namespace
}  // namespace valtronics::store
