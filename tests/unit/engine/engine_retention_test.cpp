// Engine: retention. Resolved alerts resolved longer than alerts.retention ago are deleted in
// batches of limits::kRetentionBatchRows through the writer (one batch per transaction, the next queued
// only after the previous one committed), active and acknowledged ones are kept however old,
// "0s" keeps everything, and telemetry history is pruned the same way. A temporary SQLite file,
// a real hub and the engine's thread (engine_fixture.hpp).
#include <gtest/gtest.h>

#include "engine/engine_fixture.hpp"
#include "config/limits.hpp"

namespace valtronics::engine::test {
namespace {

using model::AlertStatus;
using namespace std::chrono_literals;

using EngineRetention = EngineTest;

// Inserts `n` alerts of `status` raised at `raised`, resolved at `resolved` when given, in one
// transaction on the test's own connection.
void add_alerts(store::Database& db, std::size_t n, AlertStatus status, util::TimePoint raised,
                std::optional<util::TimePoint> resolved = std::nullopt) {
  store::Transaction tx(db);
  for (std::size_t i = 0; i < n; ++i) {
    model::Alert a;
    a.device_id = 1 + static_cast<std::int64_t>(i % 3);
    a.title = "seeded";
    a.status = status;
    a.timestamp = raised;
    a.resolved_at = resolved;
    store::insert_alert(db, a);
  }
  tx.commit();
}

TEST_F(EngineRetention, ResolvedAlertsOlderThanRetentionGoInBatchesActiveOnesStay) {
  cfg.alerts.retention = 24h;
  start_engine();
  EXPECT_EQ(prune_now().alerts, 0u);  // nothing yet; also waits out the pass run at start

  const auto now = util::Clock::now();
  const std::size_t old_resolved = 2 * limits::kRetentionBatchRows + 37;
  add_alerts(db(), old_resolved, AlertStatus::resolved, now - 72h, now - 48h);
  add_alerts(db(), 5, AlertStatus::active, now - 72h);
  add_alerts(db(), 4, AlertStatus::acknowledged, now - 72h);
  add_alerts(db(), 3, AlertStatus::resolved, now - 72h, now - 1h);  // resolved lately
  add_alerts(db(), 2, AlertStatus::resolved, now - 1h, now - 30min);

  auto report = prune_now();
  EXPECT_EQ(report.alerts, old_resolved);
  EXPECT_EQ(report.readings, 0u);
  EXPECT_EQ(report.batches, 3u);  // 500 + 500 + 37: the short one ends the pass
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 14);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts WHERE status = 'active'"), 5);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts WHERE status = 'acknowledged'"), 4);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts WHERE status = 'resolved'"), 5);
  EXPECT_EQ(store::max_pruned_alert_id(db()), static_cast<std::int64_t>(old_resolved));

  auto idle = prune_now();
  EXPECT_EQ(idle.alerts, 0u);
  EXPECT_EQ(idle.batches, 1u);  // one look, nothing to delete
}

TEST_F(EngineRetention, AnExactMultipleOfTheBatchTakesOneMoreLook) {
  cfg.alerts.retention = 1h;
  start_engine();
  prune_now();
  const auto now = util::Clock::now();
  add_alerts(db(), limits::kRetentionBatchRows, AlertStatus::resolved, now - 3h, now - 2h);
  auto report = prune_now();
  EXPECT_EQ(report.alerts, limits::kRetentionBatchRows);
  EXPECT_EQ(report.batches, 2u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 0);
}

TEST_F(EngineRetention, ZeroKeepsEveryAlert) {
  cfg.alerts.retention = 0ms;
  const auto now = util::Clock::now();
  add_alerts(db(), 10, AlertStatus::resolved, now - 24h * 400, now - 24h * 399);
  start_engine();
  auto report = prune_now();
  EXPECT_EQ(report.alerts, 0u);
  EXPECT_EQ(report.batches, 0u);  // not even looked for
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 10);
  EXPECT_EQ(store::max_pruned_alert_id(db()), 0);
}

TEST_F(EngineRetention, ThePassAtStartPrunesWhatAccumulatedWhileStopped) {
  cfg.alerts.retention = 1h;
  const auto now = util::Clock::now();
  add_alerts(db(), 3, AlertStatus::resolved, now - 3h, now - 2h);
  add_alerts(db(), 1, AlertStatus::active, now - 3h);
  start_engine();
  prune_now();  // replies after a pass that began after the call: the start pass is over
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 1);
  EXPECT_EQ(store::max_pruned_alert_id(db()), 3);
}

TEST_F(EngineRetention, AlertsResolvedByTheEngineAreKeptForTheRetention) {
  cfg.alerts.retention = 1h;
  start_engine();
  ASSERT_TRUE(create_rule(rule("temperature", model::Condition::gt, 30)));
  ASSERT_TRUE(ingest({reading(1, "temperature", 35)}));
  ASSERT_TRUE(ingest({reading(1, "temperature", 20)}));
  settle();
  ASSERT_EQ(count("SELECT COUNT(*) FROM alerts WHERE status = 'resolved'"), 1);
  EXPECT_EQ(prune_now().alerts, 0u);  // resolved just now
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 1);
}

TEST_F(EngineRetention, TelemetryHistoryIsPrunedInBatchesToo) {
  cfg.telemetry.retention = 1h;
  cfg.alerts.retention = 0ms;
  start_engine();
  prune_now();
  const auto now = util::Clock::now();
  std::vector<model::MetricValue> old_values, new_values;
  for (std::size_t i = 0; i < limits::kRetentionBatchRows + 10; ++i)
    old_values.push_back({1, "temperature", double(i), "", now - 2h});
  new_values.push_back({1, "temperature", 1, "", now - 10min});
  store::append_history(db(), old_values);
  store::append_history(db(), new_values);
  // Readings the engine ingests are kept in the history.
  ASSERT_TRUE(ingest({reading(1, "temperature", 20)}));
  settle();
  auto report = prune_now();
  EXPECT_EQ(report.readings, limits::kRetentionBatchRows + 10);
  // (issue 14) Their per-minute rollup goes in the same pass: the old readings share a minute.
  EXPECT_EQ(report.minutes, 1u);
  EXPECT_EQ(report.alerts, 0u);
  EXPECT_EQ(report.batches, 3u);  // 500 + 10 readings, then 1 minute
  EXPECT_EQ(count("SELECT COUNT(*) FROM telemetry_history"), 2);
  EXPECT_EQ(count("SELECT SUM(n) FROM telemetry_minutes"), 2);
}

}  // namespace
}  // namespace valtronics::engine::test
