// Engine: since_alert_id replays. Stored alerts after the id, oldest first, within the filters
// and the token's devices; the newest `replay_max_alerts` and `complete` false beyond the limit;
// and `complete` false whenever retention deleted an alert after the id, even when older alerts
// (still active) remain before it. A temporary SQLite file, a real hub and the engine's thread.
#include <gtest/gtest.h>

#include "engine/engine_fixture.hpp"

namespace valtronics::engine::test {
namespace {

using model::AlertEvent;
using model::AlertStatus;
using model::Condition;
using model::Severity;
using namespace std::chrono_literals;

using EngineReplay = EngineTest;

std::vector<std::int64_t> ids(const model::AlertReplay& r) {
  std::vector<std::int64_t> out;
  for (const auto& a : r.alerts) out.push_back(a.id);
  return out;
}

class EngineReplayWithAlerts : public EngineTest {
 protected:
  // Alerts 1..6 alternating devices 1 and 2; 3 and 6 critical (a second rule); all active.
  void SetUp() override {
    start_engine();
    ASSERT_TRUE(create_rule(rule("temperature", Condition::gt, 30)));
    ASSERT_TRUE(create_rule(rule("pressure", Condition::gt, 30, Severity::critical)));
    auto fire = [&](std::int64_t device, const char* metric) {
      ASSERT_TRUE(ingest({reading(device, metric, 35)}));
      ASSERT_TRUE(ingest({reading(device, metric, 0)}));  // resolves: the next one is new
      settle();
    };
    fire(1, "temperature");
    fire(2, "temperature");
    fire(1, "pressure");
    fire(2, "temperature");
    fire(1, "temperature");
    fire(2, "pressure");
    EXPECT_EQ(list_alerts()->total, 6u);
  }
};

TEST_F(EngineReplayWithAlerts, AfterTheIdOldestFirstWithTheirCurrentStatus) {
  auto all = replay(0);
  EXPECT_EQ(ids(all), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(all.complete);
  EXPECT_EQ(all.oldest_available, 1);
  for (const auto& a : all.alerts) EXPECT_EQ(a.status, AlertStatus::resolved);
  auto later = replay(4);
  EXPECT_EQ(ids(later), (std::vector<std::int64_t>{5, 6}));
  EXPECT_TRUE(later.complete);
  auto none = replay(6);
  EXPECT_TRUE(none.alerts.empty());
  EXPECT_TRUE(none.complete);
}

TEST_F(EngineReplayWithAlerts, FiltersAndTheTokensDevices) {
  protocol::Filters device_2;
  device_2.device_ids = {2};
  EXPECT_EQ(ids(replay(0, device_2)), (std::vector<std::int64_t>{2, 4, 6}));
  protocol::Filters critical;
  critical.severities = {Severity::critical};
  EXPECT_EQ(ids(replay(0, critical)), (std::vector<std::int64_t>{3, 6}));
  critical.device_ids = {1};
  EXPECT_EQ(ids(replay(1, critical)), (std::vector<std::int64_t>{3}));
  protocol::Filters device_alerts;
  device_alerts.alert_types = {model::AlertType::device};
  EXPECT_TRUE(replay(0, device_alerts).alerts.empty());

  EXPECT_EQ(ids(replay(0, {}, user_of({1}))), (std::vector<std::int64_t>{1, 3, 5}));
  EXPECT_EQ(ids(replay(0, device_2, user_of({1}))), (std::vector<std::int64_t>{}));
  auth::Claims device_token;
  device_token.role = auth::Role::device;
  device_token.device_id = 1;
  EXPECT_TRUE(replay(0, {}, device_token).alerts.empty());
}

TEST_F(EngineReplayWithAlerts, BeyondTheLimitTheNewestAndIncomplete) {
  cfg.alerts.replay_max_alerts = 4;
  restart_engine();
  auto r = replay(0);
  EXPECT_EQ(ids(r), (std::vector<std::int64_t>{3, 4, 5, 6}));
  EXPECT_FALSE(r.complete);
  auto fits = replay(2);
  EXPECT_EQ(ids(fits), (std::vector<std::int64_t>{3, 4, 5, 6}));
  EXPECT_TRUE(fits.complete);
}

// Retention deletes resolved alerts out of id order: an alert still active keeps the smallest
// id, yet alerts after it are gone. The replay must say so for every since_id below the largest
// pruned id, and only for those.
TEST_F(EngineReplay, IncompleteWhenRetentionDeletedAnAlertAfterTheId) {
  cfg.alerts.retention = std::chrono::hours(1);
  const auto now = util::Clock::now();
  auto add = [&](AlertStatus status, util::TimePoint raised,
                 std::optional<util::TimePoint> resolved) {
    model::Alert a;
    a.device_id = 1;
    a.title = "seeded";
    a.status = status;
    a.timestamp = raised;
    a.resolved_at = resolved;
    if (resolved) a.resolved_by = "system";
    return store::insert_alert(db(), a);
  };
  EXPECT_EQ(add(AlertStatus::resolved, now - 3h, now - 2h), 1);      // pruned
  EXPECT_EQ(add(AlertStatus::active, now - 3h, std::nullopt), 2);     // kept: active
  EXPECT_EQ(add(AlertStatus::resolved, now - 3h, now - 30min), 3);   // kept: resolved lately
  EXPECT_EQ(add(AlertStatus::resolved, now - 2h, now - 90min), 4);   // pruned
  start_engine();
  prune_now();  // after the pass the engine runs at start
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 2);

  auto from_0 = replay(0);
  EXPECT_EQ(ids(from_0), (std::vector<std::int64_t>{2, 3}));
  EXPECT_FALSE(from_0.complete);
  EXPECT_EQ(from_0.oldest_available, 2);
  auto from_1 = replay(1);  // alert 2 is still there, but 4 is gone
  EXPECT_EQ(ids(from_1), (std::vector<std::int64_t>{2, 3}));
  EXPECT_FALSE(from_1.complete);
  EXPECT_FALSE(replay(3).complete);
  auto from_4 = replay(4);
  EXPECT_TRUE(from_4.alerts.empty());
  EXPECT_TRUE(from_4.complete);

  // New alerts after the pruned ones replay completely from the largest pruned id on.
  ASSERT_TRUE(create_rule(rule("temperature", Condition::gt, 30)));
  ASSERT_TRUE(ingest({reading(1, "temperature", 35)}));
  settle();
  auto fresh = replay(4);
  EXPECT_EQ(ids(fresh), (std::vector<std::int64_t>{5}));
  EXPECT_TRUE(fresh.complete);
  restart_engine();  // the mark is stored, not remembered
  EXPECT_FALSE(replay(3).complete);
  EXPECT_TRUE(replay(4).complete);
}

// The reply comes only once every alert the query could see has been published: a subscriber
// holding live alerts from before the call has them all by then.
TEST_F(EngineReplay, TheReplyFollowsThePublicationOfWhatItHolds) {
  start_engine();
  ASSERT_TRUE(create_rule(rule("temperature", Condition::gt, 30)));
  for (int device = 1; device <= 20; ++device)
    ASSERT_TRUE(ingest({reading(device, "temperature", 35)}));
  auto r = replay(0);  // no settle: alerts may still be committing
  deliver();
  std::vector<std::int64_t> published;
  for (const auto& e : recorder.bodies<AlertEvent>()) published.push_back(e.alert_id);
  for (auto id : ids(r))
    EXPECT_NE(std::find(published.begin(), published.end(), id), published.end()) << id;
}

}  // namespace
}  // namespace valtronics::engine::test
