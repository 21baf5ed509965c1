// session::Connection: hub events to update messages. Filters (metrics projection, severity,
// alert type, status), device visibility by the token, at most once per connection, `seq` per
// channel; throttled telemetry (`frequency`) and the system channel's frequency.
#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using model::AlertStatus;
using model::AlertType;
using model::DeviceStatus;
using model::Severity;

// The metric names of a telemetry_update, in order.
std::vector<std::string> metric_names(const json::object& update) {
  std::vector<std::string> out;
  for (const auto& kv : update.at("telemetry").as_object()) out.emplace_back(kv.key());
  return out;
}

TEST(SessionDelivery, TelemetryUpdateIsTheFullEventWithSeq) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->read();
  h.publish(telemetry(3, {reading("temperature", 21.5, "C"), reading("humidity", 40)}));
  EXPECT_EQ(c->read_one(), obj(R"({"type":"telemetry_update","channel":"telemetry","device_id":3,
      "telemetry":{"temperature":{"value":21.5,"unit":"C","timestamp":"2026-01-01T12:00:00.000Z"},
                   "humidity":{"value":40,"timestamp":"2026-01-01T12:00:00.000Z"}},"seq":1})"));
}

TEST(SessionDelivery, MetricsFilterSendsOnlyTheAskedMetrics) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","metrics":["temperature","rpm"],"id":1})");
  c->read();
  h.publish(telemetry(3, {reading("temperature", 21.5), reading("humidity", 40), reading("rpm", 900)}));
  auto m = c->read_one();
  EXPECT_EQ(metric_names(m), (std::vector<std::string>{"temperature", "rpm"}));
  EXPECT_EQ(m.at("seq"), 1);
}

TEST(SessionDelivery, MetricsFilterSendsNothingWhenNoAskedMetricIsInTheUpdate) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","metrics":["temperature"],"id":1})");
  c->read();
  h.publish(telemetry(3, {reading("humidity", 40)}));
  EXPECT_TRUE(c->read().empty());
  h.publish(telemetry(3, {reading("temperature", 1)}));
  EXPECT_EQ(c->read_one().at("seq"), 1) << "no seq was used by the update not sent";
}

TEST(SessionDelivery, DeviceFilterSendsOnlyThatDevice) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[2,4],"id":1})");
  c->read();
  for (int d = 1; d <= 5; ++d) h.publish(telemetry(d, {reading("t", d)}));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].at("device_id"), 2);
  EXPECT_EQ(msgs[1].at("device_id"), 4);
}

TEST(SessionDelivery, SeverityAndAlertTypeFilters) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","severity":["critical","warning"],
      "alert_type":["threshold"],"id":1})");
  c->answer_alerts({});
  c->read();
  h.publish(alert_event(1, 1, Severity::info));
  h.publish(alert_event(2, 1, Severity::critical, AlertStatus::active, AlertType::anomaly));
  h.publish(alert_event(3, 1, Severity::critical));
  h.publish(alert_event(4, 1, Severity::warning));
  auto msgs = c->read();
  EXPECT_EQ(alert_ids_of(msgs), (std::vector<std::int64_t>{3, 4}));
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0], obj(R"({"type":"alert","channel":"alerts","alert_id":3,"device_id":1,
      "severity":"critical","alert_type":"threshold","title":"alert 3","message":"device 1",
      "status":"active","timestamp":"2026-01-01T12:00:00.000Z","metadata":{},"seq":1})"));
}

TEST(SessionDelivery, AlertStateChangesAreDelivered) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","id":1})");
  c->answer_alerts({});
  c->read();
  h.publish(alert_event(1, 1));
  h.publish(alert_event(1, 1, Severity::warning, AlertStatus::acknowledged));
  h.publish(alert_event(1, 1, Severity::warning, AlertStatus::resolved));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].at("status"), "active");
  EXPECT_EQ(msgs[1].at("status"), "acknowledged");
  EXPECT_EQ(msgs[2].at("status"), "resolved");
  EXPECT_EQ(seqs_of(msgs), (std::vector<std::int64_t>{1, 2, 3}));
}

TEST(SessionDelivery, StatusTypesFilter) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"devices","status_types":["offline","error"],
      "snapshot":false,"id":1})");
  c->read();
  h.publish(status_event(1, DeviceStatus::online, DeviceStatus::offline));
  h.publish(status_event(1, DeviceStatus::offline, DeviceStatus::online));
  h.publish(status_event(2, DeviceStatus::online, DeviceStatus::error));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0], obj(R"({"type":"device_status_update","channel":"devices","device_id":1,
      "old_status":"online","new_status":"offline","timestamp":"2026-01-01T12:00:00.000Z",
      "reason":"test","metadata":{},"seq":1})"));
  EXPECT_EQ(msgs[1].at("new_status"), "error");
  EXPECT_EQ(msgs[1].at("seq"), 2);
}

TEST(SessionDelivery, EveryDeviceSubscriptionDeliversOnlyDevicesTheTokenCovers) {
  SessionHarness h;
  auto c = h.authed(h.user_token({1, 2}));
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->send(R"({"type":"subscribe","channel":"devices","snapshot":false,"id":2})");
  c->send(R"({"type":"subscribe","channel":"alerts","id":3})");
  c->answer_alerts({});
  ASSERT_EQ(c->read().size(), 3u);
  for (int d = 1; d <= 3; ++d) {
    h.publish(telemetry(d, {reading("t", d)}));
    h.publish(status_event(d, DeviceStatus::online, DeviceStatus::offline));
    h.publish(alert_event(d, d));
  }
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 6u) << TestClient::dump(msgs);
  for (const auto& m : msgs) EXPECT_NE(m.at("device_id"), 3) << json::serialize(m);
}

TEST(SessionDelivery, EachEventAtMostOnceWhenSeveralSubscriptionsMatch) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":1,"id":1})");
  c->answer_alerts({});
  c->send(R"({"type":"subscribe","channel":"alerts","id":2})");
  c->answer_alerts({});
  c->send(R"({"type":"subscribe","channel":"devices","device_id":1,"snapshot":false,"id":3})");
  c->send(R"({"type":"subscribe","channel":"devices","snapshot":false,"id":4})");
  ASSERT_EQ(c->read().size(), 4u);
  h.publish(alert_event(1, 1));
  h.publish(status_event(1, DeviceStatus::online, DeviceStatus::offline));
  auto msgs = c->read();
  EXPECT_EQ(types_of(msgs), (std::vector<std::string>{"alert", "device_status_update"}));
}

TEST(SessionDelivery, SeveralTelemetrySubscriptionsSendTheUnionOfTheirMetricsOnce) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":1,"metrics":["a"],"id":1})");
  c->send(R"({"type":"subscribe","channel":"telemetry","metrics":["b"],"id":2})");
  c->read();
  h.publish(telemetry(1, {reading("a", 1), reading("b", 2), reading("c", 3)}));
  h.publish(telemetry(2, {reading("a", 1), reading("b", 2), reading("c", 3)}));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(metric_names(msgs[0]), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(metric_names(msgs[1]), (std::vector<std::string>{"b"}));
}

TEST(SessionDelivery, AFilterOfOneSubscriptionDoesNotHideWhatAnotherAccepts) {
  SessionHarness h;
  auto c = h.admin();
  // Every device: critical only; device 1: every severity.
  c->send(R"({"type":"subscribe","channel":"alerts","severity":"critical","id":1})");
  c->answer_alerts({});
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":1,"id":2})");
  c->answer_alerts({});
  c->read();
  h.publish(alert_event(1, 1, Severity::info));
  h.publish(alert_event(2, 2, Severity::info));
  h.publish(alert_event(3, 2, Severity::critical));
  EXPECT_EQ(alert_ids_of(c->read()), (std::vector<std::int64_t>{1, 3}));
}

TEST(SessionDelivery, SeqCountsPerChannelByOne) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->send(R"({"type":"subscribe","channel":"devices","snapshot":false,"id":2})");
  c->send(R"({"type":"subscribe","channel":"alerts","id":3})");
  c->answer_alerts({});
  c->read();
  h.publish(telemetry(1, {reading("t", 1)}));
  h.publish(alert_event(1, 1));
  h.publish(telemetry(1, {reading("t", 2)}));
  h.publish(status_event(1, DeviceStatus::online, DeviceStatus::offline));
  h.publish(telemetry(2, {reading("t", 3)}));
  h.publish(alert_event(2, 1));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 6u);
  std::map<std::string, std::vector<std::int64_t>> by_channel;
  for (const auto& m : msgs)
    by_channel[std::string(m.at("channel").as_string())].push_back(m.at("seq").as_int64());
  EXPECT_EQ(by_channel["telemetry"], (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(by_channel["alerts"], (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(by_channel["devices"], (std::vector<std::int64_t>{1}));
}

TEST(SessionDelivery, RepliesCarryNoSeq) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->send(R"({"type":"ping","id":2})");
  for (const auto& m : c->read()) EXPECT_FALSE(m.contains("seq")) << json::serialize(m);
}

TEST(SessionDelivery, SystemUpdatesWithMetricsProjection) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"system","metrics":["memory_usage"],"frequency":"1s","id":1})");
  c->read();
  h.publish(system_event(12.5, 60));
  EXPECT_EQ(c->read_one(), obj(R"({"type":"system_status_update","channel":"system",
      "metrics":{"memory_usage":60},"timestamp":"2026-01-01T12:00:00.000Z","seq":1})"));
}

TEST(SessionDelivery, EventsBeforeAuthAreIgnored) {
  SessionHarness h;
  auto c = h.connect();
  hub::ProjectionCache cache;
  c->conn.on_event(make_event(1, telemetry(1, {reading("t", 1)})), cache);
  EXPECT_TRUE(c->read_frames().empty());
}

TEST(SessionDelivery, EventsAfterCloseAreIgnored) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->read();
  c->conn.close(protocol::close_code::going_away, "shutdown");
  h.publish(telemetry(1, {reading("t", 1)}));
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), protocol::close_code::going_away);
}

// ------------------------------------------------------------------------------ throttling

class SessionThrottle : public ::testing::Test {
 protected:
  SessionThrottle() : h(config()) {}
  static config::Config config() {
    auto cfg = SessionHarness::default_config();
    cfg.limits.idle_timeout = 0ms;  // keepalive off: the only deadlines are the throttle's
    return cfg;
  }
  SessionHarness h;
};

TEST_F(SessionThrottle, FirstUpdateLeavesAtOnceThenLatestValuesAtTheSlot) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","frequency":"1s","id":1})");
  c->read();
  const auto t0 = FakeClock::steady;
  h.publish(telemetry(1, {reading("t", 1)}));
  EXPECT_EQ(c->read_one().at("telemetry").at("t").at("value"), 1);
  FakeClock::advance(100ms);
  h.publish(telemetry(1, {reading("t", 2), reading("h", 20)}));
  FakeClock::advance(100ms);
  h.publish(telemetry(1, {reading("t", 3)}));
  EXPECT_TRUE(c->read().empty()) << "held until the slot";
  EXPECT_EQ(c->host.deadline, t0 + 1s);
  FakeClock::advance(799ms);
  c->conn.on_deadline();
  EXPECT_TRUE(c->read().empty()) << "not due yet";
  FakeClock::advance(1ms);
  c->conn.on_deadline();
  auto m = c->read_one();
  EXPECT_EQ(m, obj(R"({"type":"telemetry_update","channel":"telemetry","device_id":1,
      "telemetry":{"h":{"value":20,"timestamp":"2026-01-01T12:00:00.100Z"},
                   "t":{"value":3,"timestamp":"2026-01-01T12:00:00.200Z"}},"seq":2})"));
  EXPECT_EQ(c->host.deadline, FakeClock::kSteadyStart + 3540s) << "nothing held: only the token warning is left";
}

TEST_F(SessionThrottle, SlotsArePacedFromTheSlotNotFromALateDeadline) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","frequency":"1s","id":1})");
  c->read();
  const auto t0 = FakeClock::steady;
  h.publish(telemetry(1, {reading("t", 1)}));
  FakeClock::advance(500ms);
  h.publish(telemetry(1, {reading("t", 2)}));
  FakeClock::advance(800ms);  // the host calls on_deadline late, at t0 + 1.3 s
  c->conn.on_deadline();
  EXPECT_EQ(c->read().size(), 2u);
  FakeClock::advance(100ms);
  h.publish(telemetry(1, {reading("t", 3)}));
  EXPECT_TRUE(c->read().empty());
  EXPECT_EQ(c->host.deadline, t0 + 2s);
}

TEST_F(SessionThrottle, AfterAQuietSlotTheNextUpdateLeavesAtOnce) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","frequency":"1s","id":1})");
  c->read();
  h.publish(telemetry(1, {reading("t", 1)}));
  FakeClock::advance(3s);
  h.publish(telemetry(1, {reading("t", 2)}));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(seqs_of(msgs), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(SessionThrottle, DevicesHaveSlotsOfTheirOwn) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","frequency":"1s","id":1})");
  c->read();
  h.publish(telemetry(1, {reading("t", 1)}));
  FakeClock::advance(300ms);
  h.publish(telemetry(2, {reading("t", 1)}));
  h.publish(telemetry(1, {reading("t", 2)}));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].at("device_id"), 1);
  EXPECT_EQ(msgs[1].at("device_id"), 2);
  FakeClock::advance(700ms);
  c->conn.on_deadline();
  auto due = c->read();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].at("device_id"), 1);
  EXPECT_EQ(due[0].at("seq"), 3);
}

TEST_F(SessionThrottle, ThrottledMetricsFilterKeepsOnlyAskedMetrics) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","metrics":["t"],"frequency":"1s","id":1})");
  c->read();
  h.publish(telemetry(1, {reading("h", 1)}));
  EXPECT_TRUE(c->read().empty());
  EXPECT_EQ(c->host.deadline, FakeClock::kSteadyStart + 3540s) << "nothing held: no throttle slot";
  h.publish(telemetry(1, {reading("h", 2), reading("t", 5)}));
  auto m = c->read_one();
  EXPECT_EQ(metric_names(m), std::vector<std::string>{"t"});
}

TEST_F(SessionThrottle, ARealTimeSubscriptionOfTheSameDeviceWins) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","frequency":"1s","id":1})");
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":1,"id":2})");
  c->read();
  for (int i = 0; i < 3; ++i) h.publish(telemetry(1, {reading("t", i)}));
  EXPECT_EQ(c->read().size(), 3u);
}

TEST_F(SessionThrottle, UnsubscribeDropsHeldValues) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","frequency":"1s","id":1})");
  c->read();
  h.publish(telemetry(1, {reading("t", 1)}));
  FakeClock::advance(100ms);
  h.publish(telemetry(1, {reading("t", 2)}));
  c->read();
  c->send(R"({"type":"unsubscribe","channel":"telemetry","id":2})");
  EXPECT_EQ(c->read_one().at("removed"), 1);
  FakeClock::advance(1s);
  c->conn.on_deadline();
  EXPECT_TRUE(c->read().empty());
}

TEST_F(SessionThrottle, SystemFrequencyTakesOneSamplePerInterval) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"system","frequency":"5s","id":1})");
  c->read();
  std::vector<double> got;
  // One sample a second, as the sampler publishes them, for 11 s.
  for (int s = 0; s <= 10; ++s) {
    h.publish(system_event(s));
    for (const auto& m : c->read()) got.push_back(m.at("metrics").at("cpu_usage").to_number<double>());
    FakeClock::advance(1s);
  }
  EXPECT_EQ(got, (std::vector<double>{0, 5, 10}));
}

TEST_F(SessionThrottle, SystemSampleUpToHalfASecondEarlyCounts) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"system","frequency":"5s","id":1})");
  c->read();
  h.publish(system_event(1));
  EXPECT_EQ(c->read().size(), 1u);
  FakeClock::advance(4499ms);
  h.publish(system_event(2));
  EXPECT_TRUE(c->read().empty());
  FakeClock::advance(1ms);
  h.publish(system_event(3));
  auto m = c->read_one();
  EXPECT_EQ(m.at("metrics").at("cpu_usage"), 3);
  EXPECT_EQ(m.at("seq"), 2);
}

TEST_F(SessionThrottle, ResubscribingToSystemTakesTheNextSample) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"system","frequency":"30s","id":1})");
  c->read();
  h.publish(system_event(1));
  EXPECT_EQ(c->read().size(), 1u);
  FakeClock::advance(1s);
  c->send(R"({"type":"subscribe","channel":"system","frequency":"1s","id":2})");
  c->read();
  h.publish(system_event(2));
  EXPECT_EQ(c->read().size(), 1u);
}

}  // namespace
}  // namespace valtronics::session::test
