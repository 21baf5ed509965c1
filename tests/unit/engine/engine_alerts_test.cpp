// Engine: alerts from rules (once per episode, resolved by the rule with hysteresis), their
// acknowledgement and resolution (who and when recorded, stored, published; invalid_state when
// already done), lists within the token's devices, and what deleting a device or a critical
// alert does. A temporary SQLite file, a real hub and the engine's thread (engine_fixture.hpp).
#include <gtest/gtest.h>

#include <thread>

#include "engine/engine_fixture.hpp"

namespace valtronics::engine::test {
namespace {

using model::AlertEvent;
using model::AlertStatus;
using model::Condition;
using model::DeviceStatus;
using model::DomainError;
using model::Severity;

using EngineAlerts = EngineTest;

std::vector<AlertStatus> statuses(const std::vector<AlertEvent>& events) {
  std::vector<AlertStatus> out;
  for (const auto& e : events) out.push_back(e.status);
  return out;
}

TEST_F(EngineAlerts, ARuleFiresOncePerEpisodeAndResolvesPastTheHysteresis) {
  start_engine();
  auto r = create_rule(rule("temperature", Condition::gt, 30));
  ASSERT_TRUE(r);
  for (double v : {35.0, 36.0, 31.0, 29.8})  // 29.8: back below, but within the 1% margin
    ASSERT_TRUE(ingest({reading(1, "temperature", v)}));
  settle();
  auto raised = recorder.bodies<AlertEvent>();
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].status, AlertStatus::active);
  EXPECT_EQ(raised[0].device_id, 1);
  EXPECT_EQ(raised[0].title, r->name);
  EXPECT_EQ(raised[0].metadata.at("threshold_value"), 30.0);
  EXPECT_EQ(raised[0].metadata.at("actual_value"), 35.0);
  EXPECT_EQ(raised[0].metadata.at("rule_id"), r->id);
  EXPECT_EQ(raised[0].message, "temperature is 35, above threshold 30");
  // Published only once stored: the id is the row's.
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts WHERE id = " + std::to_string(raised[0].alert_id) +
                  " AND status = 'active'"),
            1);

  ASSERT_TRUE(ingest({reading(1, "temperature", 29)}));  // cleared
  ASSERT_TRUE(ingest({reading(1, "temperature", 35)}));  // a new episode
  settle();
  auto all = recorder.bodies<AlertEvent>();
  EXPECT_EQ(statuses(all),
            (std::vector<AlertStatus>{AlertStatus::active, AlertStatus::resolved,
                                      AlertStatus::active}));
  EXPECT_EQ(all[1].alert_id, all[0].alert_id);
  EXPECT_EQ(all[1].metadata.at("resolved_value"), 29.0);
  EXPECT_GT(all[2].alert_id, all[0].alert_id);
  auto stored = list_alerts();
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->total, 2u);
  EXPECT_EQ(stored->items[0].resolved_by, "system");
}

TEST_F(EngineAlerts, AcknowledgeAndResolveRecordWhoAndWhenAndPublish) {
  start_engine();
  ASSERT_TRUE(create_rule(rule("temperature", Condition::gt, 30)));
  ASSERT_TRUE(ingest({reading(1, "temperature", 35)}));
  settle();
  const auto id = recorder.bodies<AlertEvent>().at(0).alert_id;
  recorder.clear();

  const auto before = util::Clock::now();
  auto acked = acknowledge(id, "alice", "looking");
  ASSERT_TRUE(acked) << acked.error().message;
  const auto after_ack = util::Clock::now();
  EXPECT_EQ(acked->id, id);
  EXPECT_EQ(acked->status, AlertStatus::acknowledged);
  EXPECT_EQ(acked->acknowledged_by, "alice");
  ASSERT_TRUE(acked->acknowledged_at);
  EXPECT_GE(*acked->acknowledged_at, before);
  EXPECT_LE(*acked->acknowledged_at, after_ack);
  EXPECT_EQ(acked->notes, "looking");

  auto again = acknowledge(id, "carol");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, DomainError::Kind::invalid_state);
  EXPECT_EQ(again.error().details.at("status"), "acknowledged");

  auto resolved = resolve(id, "bob");
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->status, AlertStatus::resolved);
  EXPECT_EQ(resolved->resolved_by, "bob");
  ASSERT_TRUE(resolved->resolved_at);
  EXPECT_GE(*resolved->resolved_at, *acked->acknowledged_at);
  EXPECT_EQ(resolved->acknowledged_by, "alice");  // kept
  EXPECT_EQ(resolved->notes, "looking");          // no new notes: kept

  auto twice = resolve(id, "bob");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, DomainError::Kind::invalid_state);
  EXPECT_EQ(twice.error().details.at("status"), "resolved");
  EXPECT_FALSE(acknowledge(id, "alice"));
  auto unknown = resolve(id + 100, "bob");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, DomainError::Kind::not_found);

  settle();
  auto events = recorder.bodies<AlertEvent>();
  EXPECT_EQ(statuses(events),
            (std::vector<AlertStatus>{AlertStatus::acknowledged, AlertStatus::resolved}));
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts WHERE id = " + std::to_string(id) +
                  " AND status = 'resolved' AND acknowledged_by = 'alice' AND resolved_by = "
                  "'bob' AND acknowledged_at IS NOT NULL AND resolved_at IS NOT NULL"),
            1);

  // A manually resolved alert ends its episode: the condition must clear before a new alert.
  ASSERT_TRUE(ingest({reading(1, "temperature", 36)}));
  settle();
  EXPECT_EQ(recorder.bodies<AlertEvent>().size(), 2u);
  ASSERT_TRUE(ingest({reading(1, "temperature", 20)}));
  ASSERT_TRUE(ingest({reading(1, "temperature", 36)}));
  settle();
  EXPECT_EQ(recorder.bodies<AlertEvent>().size(), 3u);
}

TEST_F(EngineAlerts, AStoredAlertIsResolvedAfterARestart) {
  start_engine();
  ASSERT_TRUE(create_rule(rule("temperature", Condition::gt, 30)));
  ASSERT_TRUE(ingest({reading(1, "temperature", 35)}));
  settle();
  const auto id = recorder.bodies<AlertEvent>().at(0).alert_id;
  restart_engine();
  ASSERT_TRUE(acknowledge(id, "alice"));
  ASSERT_TRUE(ingest({reading(1, "temperature", 36)}));  // still open: no new alert
  ASSERT_TRUE(ingest({reading(1, "temperature", 20)}));  // the rule resolves it
  settle();
  EXPECT_EQ(statuses(recorder.bodies<AlertEvent>()),
            (std::vector<AlertStatus>{AlertStatus::acknowledged, AlertStatus::resolved}));
  EXPECT_EQ(list_alerts()->total, 1u);
}

TEST_F(EngineAlerts, ADurationWindowInProgressSurvivesARestart) {
  // The condition holds from the first reading; the engine restarts 1 s later. The window is
  // in the database, so the new engine fires when the 2 s are up, without a new reading
  // (before, the duration started again from the next reading after the restart).
  start_engine();
  auto r = rule("temperature", Condition::gt, 30);
  r.duration = std::chrono::seconds(2);
  ASSERT_TRUE(create_rule(r));
  ASSERT_TRUE(ingest({reading(1, "temperature", 35)}));
  settle();
  EXPECT_TRUE(recorder.bodies<AlertEvent>().empty());
  restart_engine();
  EXPECT_EQ(count("SELECT COUNT(*) FROM rule_windows WHERE device_id = 1"), 1);
  std::vector<AlertEvent> raised;
  for (int i = 0; i < 100 && raised.empty(); ++i) {  // the engine ticks once a second
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    settle();
    raised = recorder.bodies<AlertEvent>();
  }
  ASSERT_EQ(raised.size(), 1u) << "fired by the restarted engine within 5 s";
  EXPECT_EQ(raised[0].metadata.at("actual_value"), 35.0);
  settle();
  EXPECT_EQ(count("SELECT COUNT(*) FROM rule_windows"), 0) << "fired: the window row is gone";
}

TEST_F(EngineAlerts, ListsAndReadsStayWithinTheTokensDevices) {
  start_engine();
  ASSERT_TRUE(create_rule(rule("temperature", Condition::gt, 30)));
  ASSERT_TRUE(ingest({reading(1, "temperature", 35), reading(2, "temperature", 35),
                      reading(3, "temperature", 35)}));
  settle();
  EXPECT_EQ(list_alerts()->total, 3u);
  auto mine = list_alerts({}, user_of({2, 3}));
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->total, 2u);
  store::AlertQuery only_one;
  only_one.device_ids = {1, 3};
  EXPECT_EQ(list_alerts(only_one, user_of({2, 3}))->items.at(0).device_id, 3);
  EXPECT_EQ(list_alerts({}, user_of({}))->total, 0u);

  store::AlertQuery device_1;
  device_1.device_ids = {1};
  const auto of_device_1 = list_alerts(device_1)->items.at(0).id;
  auto hidden = ask<model::Result<model::Alert>>(
      [&](auto reply) { engine->get_alert(of_device_1, user_of({2}), std::move(reply)); });
  ASSERT_FALSE(hidden);
  EXPECT_EQ(hidden.error().kind, DomainError::Kind::not_found);
  auto shown = ask<model::Result<model::Alert>>(
      [&](auto reply) { engine->get_alert(of_device_1, admin(), std::move(reply)); });
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->device_id, 1);
}

TEST_F(EngineAlerts, ACriticalAlertTurnsItsDeviceWarningUntilResolved) {
  start_engine();
  ASSERT_TRUE(create_rule(rule("temperature", Condition::gt, 40, Severity::critical)));
  ASSERT_TRUE(ingest({reading(1, "temperature", 45)}));
  settle();
  EXPECT_EQ(get_device(1)->status, DeviceStatus::warning);
  const auto id = recorder.bodies<AlertEvent>().at(0).alert_id;
  ASSERT_TRUE(resolve(id, "bob"));
  settle();
  EXPECT_EQ(get_device(1)->status, DeviceStatus::online);
  std::vector<DeviceStatus> seen;
  for (const auto& e : recorder.bodies<model::DeviceStatusEvent>()) seen.push_back(e.new_status);
  EXPECT_EQ(seen, (std::vector<DeviceStatus>{DeviceStatus::online, DeviceStatus::warning,
                                             DeviceStatus::online}));
}

TEST_F(EngineAlerts, DeletingADeviceResolvesItsOpenAlertsAndKeepsThem) {
  start_engine();
  ASSERT_TRUE(create_rule(rule("temperature", Condition::gt, 30)));
  ASSERT_TRUE(ingest({reading(1, "temperature", 35)}));
  settle();
  recorder.clear();
  ASSERT_TRUE(ask<model::Result<model::Device>>(
      [&](auto reply) { engine->delete_device(1, std::move(reply)); }));
  settle();
  auto events = recorder.bodies<AlertEvent>();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].status, AlertStatus::resolved);
  auto stored = list_alerts();
  ASSERT_EQ(stored->total, 1u);
  EXPECT_EQ(stored->items[0].notes, "device deleted");
  EXPECT_EQ(stored->items[0].resolved_by, "system");
}

}  // namespace
}  // namespace valtronics::engine::test
