// session::Connection: catching up. Snapshots and since_alert_id replays are answered by the host
// when the test decides, so the orderings that only integration tests used to reach are pinned
// here: live events held during a catch-up and delivered after it (minus what it already
// reflects), requests deferred and answered after it in order, replay de-duplication against
// held events and against what other alerts subscriptions delivered, and the hold limits.
#include <gtest/gtest.h>

#include "config/limits.hpp"
#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using model::AlertStatus;
using model::DeviceStatus;
using model::Severity;
namespace close_code = protocol::close_code;

// ------------------------------------------------------------------------------ snapshots

TEST(SessionCatchUp, TelemetrySnapshotThenHeldLiveEventsNewerThanAsOf) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":true,"id":1})");
  h.publish(telemetry(1, {reading("t", 1)}));  // event 1: in the snapshot
  h.publish(telemetry(1, {reading("t", 2)}));  // event 2: in the snapshot
  h.publish(telemetry(2, {reading("t", 3)}));  // event 3: after it
  EXPECT_TRUE(c->read().empty()) << "live events wait behind the snapshot";
  c->answer_telemetry({telemetry(1, {reading("t", 2)})}, /*as_of=*/2);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 3u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[0], obj(R"({"type":"subscribed","channel":"telemetry",
      "filters":{"frequency":"real-time","snapshot":true},"id":1})"));
  EXPECT_EQ(msgs[1], obj(R"({"type":"telemetry_update","channel":"telemetry","device_id":1,
      "telemetry":{"t":{"value":2,"timestamp":"2026-01-01T12:00:00.000Z"}},"seq":1})"));
  EXPECT_EQ(msgs[2].at("device_id"), 2);
  EXPECT_EQ(msgs[2].at("telemetry").at("t").at("value"), 3);
  EXPECT_EQ(msgs[2].at("seq"), 2);
  // Live again.
  h.publish(telemetry(1, {reading("t", 4)}));
  EXPECT_EQ(c->read_one().at("seq"), 3);
}

TEST(SessionCatchUp, DevicesSnapshotThenHeldLiveEventsNewerThanAsOf) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"devices","id":1})");
  h.publish(status_event(1, DeviceStatus::online, DeviceStatus::offline));  // 1: reflected
  h.publish(status_event(2, DeviceStatus::offline, DeviceStatus::online));  // 2: after
  EXPECT_TRUE(c->read().empty());
  c->answer_status({status_event(1, DeviceStatus::offline, DeviceStatus::offline, "snapshot"),
                    status_event(2, DeviceStatus::offline, DeviceStatus::offline, "snapshot")},
                   /*as_of=*/1);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 4u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[0], obj(R"({"type":"subscribed","channel":"devices","filters":{},"id":1})"));
  EXPECT_EQ(msgs[1], obj(R"({"type":"device_status_update","channel":"devices","device_id":1,
      "old_status":"offline","new_status":"offline","timestamp":"2026-01-01T12:00:00.000Z",
      "reason":"snapshot","metadata":{},"seq":1})"));
  EXPECT_EQ(msgs[2].at("device_id"), 2);
  EXPECT_EQ(msgs[2].at("reason"), "snapshot");
  EXPECT_EQ(msgs[3].at("device_id"), 2);
  EXPECT_EQ(msgs[3].at("new_status"), "online");
  EXPECT_EQ(seqs_of(msgs), (std::vector<std::int64_t>{1, 2, 3}));
}

TEST(SessionCatchUp, HeldEventsAreFilteredWhenDelivered) {
  SessionHarness h;
  auto c = h.authed(h.user_token({1}));
  c->send(R"({"type":"subscribe","channel":"telemetry","metrics":["t"],"snapshot":true,"id":1})");
  h.publish(telemetry(1, {reading("h", 1)}));  // no asked metric
  h.publish(telemetry(2, {reading("t", 1)}));  // device not covered
  h.publish(telemetry(1, {reading("t", 5), reading("h", 5)}));
  c->answer_telemetry({}, 0);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[1].at("telemetry"), obj(R"({"t":{"value":5,"timestamp":"2026-01-01T12:00:00.000Z"}})"));
  EXPECT_EQ(msgs[1].at("seq"), 1);
}

// While a catch-up runs, every live event of the channel is held, including events for the
// connection's other subscriptions of that channel. A held event with id <= as_of is skipped
// only when the snapshot reflects it (its device, and for telemetry all its metrics, are within
// the new subscription's filters); an update for another subscription is still delivered.
// (Found by these tests: the old session skipped every held event up to as_of.)
TEST(SessionCatchUp, SnapshotDoesNotDropHeldEventsOfOtherSubscriptions) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":5,"id":1})");
  ASSERT_EQ(c->read_one().at("type"), "subscribed");
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":1,"snapshot":true,"id":2})");
  h.publish(telemetry(5, {reading("t", 55)}));
  c->answer_telemetry({telemetry(1, {reading("t", 11)})}, /*as_of=*/h.last_event_id);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 3u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[0].at("type"), "subscribed");
  EXPECT_EQ(msgs[1].at("device_id"), 1);
  EXPECT_EQ(msgs[2].at("device_id"), 5);
}

// The same bug on the devices channel.
TEST(SessionCatchUp, StatusSnapshotDoesNotDropHeldEventsOfOtherSubscriptions) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"devices","device_id":5,"snapshot":false,"id":1})");
  ASSERT_EQ(c->read_one().at("type"), "subscribed");
  c->send(R"({"type":"subscribe","channel":"devices","device_id":1,"id":2})");
  h.publish(status_event(5, DeviceStatus::online, DeviceStatus::offline));
  c->answer_status({status_event(1, DeviceStatus::online, DeviceStatus::online, "snapshot")},
                   /*as_of=*/h.last_event_id);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 3u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[2].at("device_id"), 5);
}

// ------------------------------------------------------------------------------ deferred requests

TEST(SessionCatchUp, RequestsDuringACatchUpAreAnsweredAfterItInOrder) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":true,"id":1})");
  c->send(R"({"type":"ping","id":2})");
  c->send(R"({"type":"subscribe","channel":"devices","snapshot":false,"id":3})");
  c->send(R"({"type":"unsubscribe","channel":"alerts","id":4})");
  c->send(R"({"type":"subscribe","channel":"nope","id":5})");
  EXPECT_TRUE(c->read().empty());
  h.publish(telemetry(1, {reading("t", 1)}));
  c->answer_telemetry({telemetry(1, {reading("t", 0)})}, 0);
  auto msgs = c->read();
  EXPECT_EQ(types_of(msgs), (std::vector<std::string>{"subscribed", "telemetry_update",
                                                      "telemetry_update", "pong", "subscribed",
                                                      "unsubscribed", "error"}))
      << TestClient::dump(msgs);
  ASSERT_EQ(msgs.size(), 7u);
  EXPECT_EQ(msgs[3].at("id"), 2);
  EXPECT_EQ(msgs[4].at("id"), 3);
  EXPECT_EQ(msgs[5].at("id"), 4);
  EXPECT_EQ(msgs[6].at("error"), "unknown_channel");
  EXPECT_EQ(msgs[6].at("id"), 5);
}

TEST(SessionCatchUp, ADeferredSubscribeStartsTheNextCatchUpAndTheRestWaitsAgain) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":true,"id":1})");
  c->send(R"({"type":"subscribe","channel":"alerts","id":2})");
  c->send(R"({"type":"ping","id":3})");
  c->answer_telemetry({}, 0);
  auto first = c->read();
  EXPECT_EQ(types_of(first), std::vector<std::string>{"subscribed"});
  ASSERT_EQ(c->host.replay_queries.size(), 1u) << "the alerts catch-up started";
  c->answer_alerts({});
  auto second = c->read();
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].at("channel"), "alerts");
  EXPECT_EQ(second[0].at("id"), 2);
  EXPECT_EQ(second[1].at("type"), "pong");
  EXPECT_EQ(second[1].at("id"), 3);
}

TEST(SessionCatchUp, BatchElementsAfterACatchUpWaitForIt) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"batch","messages":[
      {"type":"subscribe","channel":"telemetry","snapshot":true,"id":"a"},
      {"type":"ping","id":"b"},
      {"type":"subscribe","channel":"devices","snapshot":false,"id":"c"},
      {"type":"bogus","id":"d"}]})");
  EXPECT_TRUE(c->read().empty());
  c->answer_telemetry({}, 0);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 4u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[0].at("id"), "a");
  EXPECT_EQ(msgs[0].at("type"), "subscribed");
  EXPECT_EQ(msgs[1].at("id"), "b");
  EXPECT_EQ(msgs[1].at("type"), "pong");
  EXPECT_EQ(msgs[2].at("id"), "c");
  EXPECT_EQ(msgs[3].at("id"), "d");
  EXPECT_EQ(msgs[3].at("error"), "unknown_type");
}

TEST(SessionCatchUp, ABatchDuringACatchUpWaitsWhole) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":true,"id":1})");
  c->send(R"({"type":"batch","messages":[{"type":"ping","id":"x"},{"type":"ping","id":"y"}]})");
  c->send(R"({"type":"ping","id":"z"})");
  c->answer_telemetry({}, 0);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[1].at("id"), "x");
  EXPECT_EQ(msgs[2].at("id"), "y");
  EXPECT_EQ(msgs[3].at("id"), "z");
}

// A batch that was itself deferred runs from the front of deferred_; when one of its elements
// starts a new catch-up, its remaining elements wait ahead of the requests that arrived after
// the batch, so every reply keeps the order of the requests (docs/protocol.md). (Found by these
// tests: the old session appended them behind the later requests.)
TEST(SessionCatchUp, ADeferredBatchStartingACatchUpKeepsItsElementsBeforeLaterRequests) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":true,"id":1})");
  c->send(R"({"type":"batch","messages":[{"type":"subscribe","channel":"devices","id":"b1"},
      {"type":"ping","id":"b2"}]})");
  c->send(R"({"type":"ping","id":3})");
  c->answer_telemetry({}, 0);
  c->answer_status({}, 0);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 4u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[0].at("id"), 1);
  EXPECT_EQ(msgs[1].at("id"), "b1");
  EXPECT_EQ(msgs[2].at("id"), "b2");
  EXPECT_EQ(msgs[3].at("id"), 3);
}

TEST(SessionCatchUp, AnAnswerAfterCloseIsDropped) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":true,"id":1})");
  c->send(R"({"type":"ping","id":2})");
  c->conn.close(close_code::going_away, "shutting down");
  c->answer_telemetry({telemetry(1, {reading("t", 1)})}, 0);
  EXPECT_TRUE(c->read_until_close(close_code::going_away).empty());
}

// ------------------------------------------------------------------------------ alerts

TEST(SessionCatchUp, SinceAlertIdReplaysInOrderThenHeldLiveAlerts) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":10,"id":1})");
  h.publish(alert_event(14, 2));  // raised while the query runs: held
  EXPECT_TRUE(c->read().empty());
  c->answer_alerts({stored_alert(11, 1), stored_alert(12, 2, Severity::critical),
                    stored_alert(13, 1, Severity::info, AlertStatus::resolved)});
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 5u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[0], obj(R"({"type":"subscribed","channel":"alerts",
      "filters":{"since_alert_id":10},"recovered":true,"last_alert_id":13,"id":1})"));
  EXPECT_EQ(alert_ids_of(msgs), (std::vector<std::int64_t>{11, 12, 13, 14}));
  EXPECT_EQ(seqs_of(msgs), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(msgs[2].at("severity"), "critical");
  EXPECT_EQ(msgs[3].at("status"), "resolved");
}

TEST(SessionCatchUp, ReplayThatDidNotReachBackFarEnoughIsNotRecovered) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":1})");
  c->answer_alerts({stored_alert(50, 1), stored_alert(51, 1)}, /*complete=*/false);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].at("recovered"), false);
  EXPECT_EQ(msgs[0].at("last_alert_id"), 51);
}

TEST(SessionCatchUp, EmptyReplayLastAlertIdIsNeverBelowSinceAlertId) {
  SessionHarness h;
  h.newest_alert_id = 3;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":7,"id":1})");
  c->answer_alerts({});
  EXPECT_EQ(c->read_one().at("last_alert_id"), 7);
}

TEST(SessionCatchUp, HeldLiveCopyOfAReplayedAlertIsSkippedUnlessItIsALaterState) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":1})");
  h.publish(alert_event(2, 1));                                               // copy: skipped
  h.publish(alert_event(2, 1, Severity::warning, AlertStatus::acknowledged));  // later state
  h.publish(alert_event(1, 1, Severity::warning, AlertStatus::active));        // stale state
  h.publish(alert_event(3, 1));                                               // after the query
  c->answer_alerts({stored_alert(1, 1, Severity::warning, AlertStatus::acknowledged),
                    stored_alert(2, 1)});
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 5u) << TestClient::dump(msgs);
  EXPECT_EQ(alert_ids_of(msgs), (std::vector<std::int64_t>{1, 2, 2, 3}));
  EXPECT_EQ(msgs[1].at("status"), "acknowledged");
  EXPECT_EQ(msgs[2].at("status"), "active");
  EXPECT_EQ(msgs[3].at("status"), "acknowledged");
  EXPECT_EQ(seqs_of(msgs), (std::vector<std::int64_t>{1, 2, 3, 4}));
}

TEST(SessionCatchUp, LastAlertIdIsLoweredBelowTheFirstNewAlertHeld) {
  SessionHarness h;
  h.newest_alert_id = 40;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","id":1})");
  h.publish(alert_event(30, 1, Severity::warning, AlertStatus::resolved));  // an old alert changes
  h.publish(alert_event(41, 1));
  h.publish(alert_event(42, 2));
  ASSERT_EQ(c->host.replay_queries.size(), 1u);
  EXPECT_EQ(c->host.replay_queries[0].since_id, 40);
  c->answer_alerts({stored_alert(41, 1), stored_alert(42, 2)});
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 4u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[0].at("last_alert_id"), 40);
  EXPECT_EQ(alert_ids_of(msgs), (std::vector<std::int64_t>{30, 41, 42}));
}

TEST(SessionCatchUp, ReplaySkipsAlertsAnotherSubscriptionDeliveredSinceItsLastAlertId) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":2,"id":1})");
  c->answer_alerts({stored_alert(4, 1)});
  ASSERT_EQ(c->read_one().at("last_alert_id"), 4);
  h.publish(alert_event(5, 2));
  ASSERT_EQ(alert_ids_of(c->read()), std::vector<std::int64_t>{5});
  // The docs' example: the replay to every device skips what the device-2 subscription has.
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":2})");
  ASSERT_EQ(c->host.replay_queries.size(), 1u);
  c->answer_alerts({stored_alert(2, 2), stored_alert(3, 1), stored_alert(5, 2), stored_alert(6, 3)});
  auto msgs = c->read();
  EXPECT_EQ(alert_ids_of(msgs), (std::vector<std::int64_t>{2, 3, 6})) << TestClient::dump(msgs);
  EXPECT_EQ(seqs_of(msgs), (std::vector<std::int64_t>{2, 3, 4}));
}

TEST(SessionCatchUp, ReplaySkipsWhatARecoveredReplayCoveredFromItsSinceAlertId) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":2,"since_alert_id":0,"id":1})");
  c->answer_alerts({stored_alert(5, 2)});
  ASSERT_EQ(alert_ids_of(c->read()), std::vector<std::int64_t>{5});
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":2})");
  c->answer_alerts({stored_alert(3, 2), stored_alert(5, 2), stored_alert(7, 1)});
  EXPECT_EQ(alert_ids_of(c->read()), std::vector<std::int64_t>{7});
}

TEST(SessionCatchUp, ReplaySkipsOnlyFromTheOldestAlertOfAnUnrecoveredReplay) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":2,"since_alert_id":0,"id":1})");
  c->answer_alerts({stored_alert(5, 2), stored_alert(6, 2)}, /*complete=*/false);
  ASSERT_EQ(alert_ids_of(c->read()), (std::vector<std::int64_t>{5, 6}));
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":2})");
  c->answer_alerts({stored_alert(3, 2), stored_alert(5, 2), stored_alert(7, 1)});
  EXPECT_EQ(alert_ids_of(c->read()), (std::vector<std::int64_t>{3, 7}));
}

TEST(SessionCatchUp, ReplayCoverRespectsTheOtherSubscriptionsFilters) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":2,"severity":"critical",
      "since_alert_id":0,"id":1})");
  c->answer_alerts({});
  c->read();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":2})");
  c->answer_alerts({stored_alert(1, 2, Severity::critical), stored_alert(2, 2, Severity::info)});
  EXPECT_EQ(alert_ids_of(c->read()), std::vector<std::int64_t>{2});
}

TEST(SessionCatchUp, ReplayCountsTheSubscriptionItReplaces) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":1})");
  c->answer_alerts({stored_alert(1, 1), stored_alert(2, 1)});
  ASSERT_EQ(alert_ids_of(c->read()), (std::vector<std::int64_t>{1, 2}));
  h.publish(alert_event(3, 1));
  ASSERT_EQ(alert_ids_of(c->read()), std::vector<std::int64_t>{3});
  // The same key again: what the subscription it replaces delivered is not sent twice.
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":2})");
  c->answer_alerts({stored_alert(1, 1), stored_alert(2, 1), stored_alert(3, 1)});
  auto msgs = c->read();
  EXPECT_EQ(types_of(msgs), std::vector<std::string>{"subscribed"}) << TestClient::dump(msgs);
}

TEST(SessionCatchUp, ReplayAfterUnsubscribeSendsAgain) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":1,"since_alert_id":0,"id":1})");
  c->answer_alerts({stored_alert(1, 1)});
  c->send(R"({"type":"unsubscribe","channel":"alerts","device_id":1,"id":2})");
  c->read();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":3})");
  c->answer_alerts({stored_alert(1, 1)});
  EXPECT_EQ(alert_ids_of(c->read()), std::vector<std::int64_t>{1});
}

TEST(SessionCatchUp, LiveAlertsOutsideEveryCoverAreRememberedByState) {
  SessionHarness h;
  h.newest_alert_id = 10;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","id":1})");
  c->answer_alerts({});
  ASSERT_EQ(c->read_one().at("last_alert_id"), 10);
  // A state change of an alert older than the subscription: outside its cover.
  h.publish(alert_event(5, 1, Severity::warning, AlertStatus::acknowledged));
  ASSERT_EQ(c->read().size(), 1u);
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":1,"since_alert_id":0,"id":2})");
  c->answer_alerts({stored_alert(4, 1, Severity::warning, AlertStatus::acknowledged),
                    stored_alert(5, 1, Severity::warning, AlertStatus::acknowledged),
                    stored_alert(8, 1)});
  EXPECT_EQ(alert_ids_of(c->read()), (std::vector<std::int64_t>{4, 8}));
}

TEST(SessionCatchUp, RefreshThatWidensTheTokenForgetsWhatWasDelivered) {
  SessionHarness h;
  auto c = h.authed(h.user_token({1}));
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":1})");
  c->answer_alerts({stored_alert(1, 1)});
  ASSERT_EQ(alert_ids_of(c->read()), std::vector<std::int64_t>{1});
  c->send(SessionHarness::auth_message(h.user_token({1, 2})));
  c->read();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":2})");
  c->answer_alerts({stored_alert(1, 1), stored_alert(2, 2)});
  EXPECT_EQ(alert_ids_of(c->read()), (std::vector<std::int64_t>{1, 2}));
}

TEST(SessionCatchUp, RefreshThatDoesNotWidenKeepsWhatWasDelivered) {
  SessionHarness h;
  auto c = h.authed(h.user_token({1, 2}));
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":1})");
  c->answer_alerts({stored_alert(1, 1)});
  c->read();
  c->send(SessionHarness::auth_message(h.user_token({1, 2})));
  c->read();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":2})");
  // Alert 2 (device 2, seen all along) would have come live: covered too.
  c->answer_alerts({stored_alert(1, 1), stored_alert(2, 2)});
  EXPECT_EQ(types_of(c->read()), std::vector<std::string>{"subscribed"});
}

TEST(SessionCatchUp, LargeReplayIsFedAsTheClientReads) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.max_outbound_bytes = 4096;
  SessionHarness h(cfg);
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"id":1})");
  h.publish(alert_event(61, 1));
  std::vector<model::Alert> stored;
  for (int i = 1; i <= 60; ++i) stored.push_back(stored_alert(i, 1));
  c->answer_alerts(std::move(stored));
  // Never more than half the budget at a time (plus the one alert that crosses it).
  EXPECT_LT(c->conn.outbound().queued_bytes(), 2048u + 400u);
  c->send(R"({"type":"ping","id":2})");  // waits for the replay
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 63u);
  EXPECT_EQ(msgs.front().at("type"), "subscribed");
  std::vector<std::int64_t> want;
  for (int i = 1; i <= 61; ++i) want.push_back(i);
  EXPECT_EQ(alert_ids_of(msgs), want);
  EXPECT_EQ(seqs_of(msgs), want);
  EXPECT_EQ(msgs.back().at("type"), "pong");
  EXPECT_EQ(c->conn.state(), Connection::State::open);
}

// ------------------------------------------------------------------------------ limits

TEST(SessionCatchUp, TooManyHeldEventsCloses4009) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":true,"id":1})");
  // One event handed over kMaxHeldEvents + 1 times (directly: the shard would deliver an event
  // id once), which is what a long catch-up under a steady stream amounts to.
  auto e = make_event(1, telemetry(1, {reading("t", 1)}));
  hub::ProjectionCache cache;
  for (std::size_t i = 0; i < limits::kMaxHeldEvents; ++i) c->conn.on_event(e, cache);
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  c->conn.on_event(e, cache);
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), close_code::slow_consumer);
  EXPECT_EQ(frames[0].close_reason(), "too many events while replaying: reconnect to resume");
}

TEST(SessionCatchUp, TooManyDeferredRequestsCloses4009) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.messages_per_second = 1e6;  // the rate limit would stop the client first
  SessionHarness h(cfg);
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":true,"id":1})");
  for (std::size_t i = 0; i < limits::kMaxDeferredRequests; ++i) c->send(R"({"type":"ping"})");
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  c->send(R"({"type":"ping"})");
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), close_code::slow_consumer);
  EXPECT_EQ(frames[0].close_reason(), "too many requests while catching up");
}

}  // namespace
}  // namespace valtronics::session::test
