// Acknowledged alerts (issue 15; docs/protocol.md, "Acknowledged alerts"): delivery ids,
// redelivery after alerts.ack_timeout until acknowledged, acks for unknown ids, the bound on
// unacknowledged alerts (live: 4009; replay: waits for acks), and subscriptions without `ack`
// seeing exactly the spec's alert.
#include <gtest/gtest.h>

#include "config/limits.hpp"
#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using namespace std::chrono_literals;
using model::AlertStatus;
using model::Severity;
namespace close_code = protocol::close_code;

// Redeliveries come tens of seconds apart: no keepalive pings in between.
config::Config quiet_config() {
  auto cfg = SessionHarness::default_config();
  cfg.limits.idle_timeout = std::chrono::hours(1);
  return cfg;
}

std::unique_ptr<TestClient> acked_alerts(SessionHarness& h) {
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","ack":true,"id":1})");
  c->answer_alerts({});
  auto reply = c->read_one();
  EXPECT_EQ(reply.at("filters").at("ack"), true);
  return c;
}

TEST(SessionAck, AlertsCarryADeliveryIdAndComeAgainUntilAcknowledged) {
  SessionHarness h(quiet_config());
  auto c = acked_alerts(h);
  h.publish(alert_event(7, 1));
  h.publish(alert_event(8, 1));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].at("delivery_id"), 1);
  EXPECT_EQ(msgs[1].at("delivery_id"), 2);
  EXPECT_FALSE(msgs[0].contains("redelivered"));
  c->send(R"({"type":"ack","delivery_id":2})");  // no reply to an ack
  EXPECT_TRUE(c->read().empty());

  FakeClock::advance(h.cfg.alerts.ack_timeout - 1ms);
  c->conn.on_deadline();
  EXPECT_TRUE(c->read().empty());
  FakeClock::advance(1ms);
  c->conn.on_deadline();
  auto again = c->read_one();
  EXPECT_EQ(again.at("alert_id"), 7);
  EXPECT_EQ(again.at("delivery_id"), 1);
  EXPECT_EQ(again.at("redelivered"), true);
  EXPECT_EQ(again.at("seq"), 3) << "another message: the next seq";
  // And again, until acknowledged.
  FakeClock::advance(h.cfg.alerts.ack_timeout);
  c->conn.on_deadline();
  EXPECT_EQ(c->read_one().at("delivery_id"), 1);
  c->send(R"({"type":"ack","delivery_id":[1,2]})");  // 2 again: already acknowledged, fine
  EXPECT_TRUE(c->read().empty());
  FakeClock::advance(h.cfg.alerts.ack_timeout * 3);
  c->conn.on_deadline();
  EXPECT_TRUE(c->read().empty());
}

TEST(SessionAck, AnAckForADeliveryNeverMadeIsAnError) {
  SessionHarness h;
  auto c = acked_alerts(h);
  h.publish(alert_event(7, 1));
  c->read();
  c->send(R"({"type":"ack","delivery_id":[1,5,9],"id":"a"})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"error","error":"invalid_message","message":
      "unknown delivery_id 5, 9: no alert was sent with it on this connection","id":"a"})"));
  // More ids than an ack may name (possible only inside a batch: a lone message is 1 KB).
  std::string many = R"({"type":"batch","messages":[{"type":"ack","delivery_id":[)";
  for (std::size_t i = 1; i <= limits::kMaxAckIds + 1; ++i) many += (i > 1 ? "," : "") + std::to_string(i);
  many += "]}]}";
  c->send(many);
  auto replies = c->read();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].at("error"), "invalid_message");
  for (const char* bad : {R"({"type":"ack"})", R"({"type":"ack","delivery_id":0})",
                          R"({"type":"ack","delivery_id":[]})", R"({"type":"ack","delivery_id":"1"})"}) {
    c->send(bad);
    EXPECT_EQ(c->read_one().at("error"), "invalid_message") << bad;
  }
}

TEST(SessionAck, WithoutAckAnAlertIsExactlyTheSpecs) {
  SessionHarness h(quiet_config());
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","id":1})");
  c->answer_alerts({});
  EXPECT_FALSE(c->read_one().at("filters").as_object().contains("ack"));
  h.publish(alert_event(7, 1));
  auto m = c->read_one();
  EXPECT_FALSE(m.contains("delivery_id"));
  FakeClock::advance(h.cfg.alerts.ack_timeout * 2);
  c->conn.on_deadline();
  EXPECT_TRUE(c->read().empty());
}

TEST(SessionAck, TooManyUnacknowledgedLiveAlertsClose4009) {
  SessionHarness h;
  auto c = acked_alerts(h);
  for (std::int64_t id = 1; id <= std::int64_t(limits::kMaxUnackedAlerts); ++id) {
    h.publish(alert_event(id, 1));
    if (id % 100 == 0) c->read();  // the client reads, it just never acknowledges
  }
  c->read();
  h.publish(alert_event(5000, 1));
  c->read_until_close(close_code::slow_consumer);
}

TEST(SessionAck, AReplayWaitsForAcksBeyondTheBound) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":0,"ack":true,"id":1})");
  std::vector<model::Alert> stored;
  const std::size_t n = limits::kMaxUnackedAlerts + 50;
  for (std::size_t i = 1; i <= n; ++i) stored.push_back(stored_alert(std::int64_t(i), 1));
  c->answer_alerts(stored);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), limits::kMaxUnackedAlerts + 1) << "the reply, then as many as the bound";
  EXPECT_EQ(msgs.back().at("delivery_id"), std::int64_t(limits::kMaxUnackedAlerts));
  c->send(R"({"type":"ack","delivery_id":[1,2,3,4,5,6,7,8,9,10]})");
  msgs = c->read();
  ASSERT_EQ(msgs.size(), 10u);
  EXPECT_EQ(msgs.back().at("alert_id"), std::int64_t(limits::kMaxUnackedAlerts + 10));
  EXPECT_EQ(c->conn.state(), Connection::State::open);
}

}  // namespace
}  // namespace valtronics::session::test
