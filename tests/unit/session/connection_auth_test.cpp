// session::Connection: authentication (message and handshake header), the auth timeout, the
// per-user limit, token refresh (narrowing, widening, re-arming) and the token's expiry.
#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

namespace close_code = protocol::close_code;

const std::string kStart = "2026-01-01T12:00:00.000Z";

TEST(SessionAuth, SuccessRepliesWithUserRoleExpiryAndId) {
  SessionHarness h;
  auto c = h.connect();
  EXPECT_TRUE(c->read_frames().empty()) << "nothing is sent before auth_response";
  c->send(SessionHarness::auth_message(h.user_token({1, 2}, "bob"), "7"));
  EXPECT_EQ(c->read_one(), obj(R"({"type":"auth_response","success":true,
      "message":"Authentication successful","user":"bob","role":"user",
      "expires_at":"2026-01-01T13:00:00.000Z","id":7})"));
  EXPECT_TRUE(c->conn.authenticated());
  EXPECT_EQ(c->conn.state(), Connection::State::open);
}

TEST(SessionAuth, BadSignatureFailsWithInvalidTokenThenCloses4001) {
  SessionHarness h;
  auth::Claims claims;
  claims.sub = "mallory";
  claims.role = auth::Role::admin;
  const auto forged = auth::sign_token("another-secret", claims, std::chrono::hours(1), FakeClock::wall);
  auto c = h.connect();
  c->send(SessionHarness::auth_message(forged, "\"a\""));
  auto msgs = c->read_until_close(close_code::auth_failed);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].at("type"), "auth_response");
  EXPECT_EQ(msgs[0].at("success"), false);
  EXPECT_EQ(msgs[0].at("error"), "invalid_token");
  EXPECT_EQ(msgs[0].at("id"), "a");
  EXPECT_FALSE(c->conn.authenticated());
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
}

TEST(SessionAuth, ExpiredTokenFailsWithTokenExpired) {
  SessionHarness h;
  const auto token = h.token({.ttl = std::chrono::seconds(10)});
  FakeClock::advance(16s);  // past exp + leeway (5 s)
  auto c = h.connect();
  c->send(SessionHarness::auth_message(token));
  auto msgs = c->read_until_close(close_code::auth_failed);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].at("error"), "token_expired");
}

TEST(SessionAuth, TokenThatIsNotAStringIsInvalidToken) {
  SessionHarness h;
  auto c = h.connect();
  c->send(R"({"type":"auth","token":42,"id":3})");
  auto msgs = c->read_until_close(close_code::auth_failed);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0], obj(R"({"type":"auth_response","success":false,"error":"invalid_token",
      "message":"'token' must be a string","id":3})"));
}

TEST(SessionAuth, GarbageTokenIsInvalidToken) {
  SessionHarness h;
  auto c = h.connect();
  c->send(R"({"type":"auth","token":"not.a.jwt","id":3})");
  auto msgs = c->read_until_close(close_code::auth_failed);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].at("error"), "invalid_token");
  EXPECT_EQ(msgs[0].at("id"), 3);
}

TEST(SessionAuth, MissingTokenIsMissingToken) {
  SessionHarness h;
  auto c = h.connect();
  c->send(R"({"type":"auth","id":3})");
  auto msgs = c->read_until_close(close_code::auth_failed);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].at("error"), "missing_token");
}

TEST(SessionAuth, NoAuthWithinAuthTimeoutCloses4001) {
  SessionHarness h;
  auto c = h.connect();
  EXPECT_EQ(c->host.deadline, FakeClock::steady + h.cfg.auth.auth_timeout);
  FakeClock::advance(h.cfg.auth.auth_timeout - 1ms);
  c->conn.on_deadline();  // early: nothing is due
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  FakeClock::advance(1ms);
  c->conn.on_deadline();
  EXPECT_TRUE(c->read_until_close(close_code::auth_failed).empty());
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
}

TEST(SessionAuth, AuthCancelsTheAuthTimeout) {
  SessionHarness h;
  auto c = h.authed(h.admin_token());
  FakeClock::advance(h.cfg.auth.auth_timeout);
  c->conn.on_deadline();
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  EXPECT_TRUE(c->read_frames().empty());
}

TEST(SessionAuth, RequestsBeforeAuthGetNotAuthenticatedButPingIsAnswered) {
  SessionHarness h;
  auto c = h.connect();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->send(R"({"type":"unsubscribe","channel":"telemetry","id":2})");
  c->send(R"({"type":"batch","messages":[{"type":"ping"}],"id":3})");
  c->send(R"({"type":"ping","id":4})");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(msgs[i].at("type"), "error");
    EXPECT_EQ(msgs[i].at("error"), "not_authenticated");
    EXPECT_EQ(msgs[i].at("id"), i + 1);
  }
  EXPECT_EQ(msgs[3].at("type"), "pong");
  EXPECT_EQ(c->conn.subscription_count(), 0u);
  EXPECT_EQ(c->conn.state(), Connection::State::open);
}

TEST(SessionAuth, PerUserLimitRefusesWithTooManyConnectionsAnd4029) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.max_connections_per_user = 1;
  SessionHarness h(cfg);
  auto first = h.authed(h.admin_token("carol"));
  auto second = h.connect();
  second->send(SessionHarness::auth_message(h.admin_token("carol"), "9"));
  auto msgs = second->read_until_close(close_code::too_many_connections);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].at("success"), false);
  EXPECT_EQ(msgs[0].at("error"), "too_many_connections");
  EXPECT_EQ(msgs[0].at("message"), "too many connections for user 'carol' (limit 1)");
  EXPECT_EQ(msgs[0].at("id"), 9);
  // Another user is not affected; and once the first connection ends, carol may connect again.
  h.authed(h.admin_token("dave"));
  first->conn.finish();
  h.authed(h.admin_token("carol"));
}

TEST(SessionAuth, HeaderTokenAuthenticatesAtStart) {
  SessionHarness h;
  auto c = h.connect({}, h.admin_token("erin"));
  EXPECT_TRUE(c->conn.authenticated());
  EXPECT_EQ(c->read_one(), obj(R"({"type":"auth_response","success":true,
      "message":"Authentication successful","user":"erin","role":"admin",
      "expires_at":"2026-01-01T13:00:00.000Z"})"));
  // No auth timeout: the next deadline is the keepalive.
  EXPECT_EQ(c->host.deadline, FakeClock::steady + h.cfg.limits.idle_timeout);
}

TEST(SessionAuth, BadHeaderTokenCloses4001AtStart) {
  SessionHarness h;
  auto c = h.connect({}, std::string("bad"));
  auto msgs = c->read_until_close(close_code::auth_failed);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].at("error"), "invalid_token");
  EXPECT_FALSE(msgs[0].contains("id"));
}

TEST(SessionAuth, PipelinedFramesAfterTheUpgradeAreRun) {
  SessionHarness h;
  const std::string early = masked_frame(Opcode::text, SessionHarness::auth_message(h.admin_token())) +
                            masked_frame(Opcode::text, R"({"type":"ping","id":2})");
  auto c = h.connect({}, std::nullopt, early);
  auto msgs = c->read();
  EXPECT_EQ(types_of(msgs), (std::vector<std::string>{"auth_response", "pong"}));
  EXPECT_TRUE(c->conn.authenticated());
}

TEST(SessionAuth, RefreshThatNarrowsDevicesRemovesSubscriptionsWithForbiddenInKeyOrder) {
  SessionHarness h;
  auto c = h.authed(h.user_token({1, 2, 3}));
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[1,2,3],"id":1})");
  c->send(R"({"type":"subscribe","channel":"devices","device_id":3,"snapshot":false,"id":2})");
  c->send(R"({"type":"subscribe","channel":"telemetry","id":3})");
  ASSERT_EQ(c->read().size(), 3u);
  ASSERT_EQ(c->conn.subscription_count(), 5u);
  ASSERT_EQ(h.shard.registrations(), 5u);

  c->send(SessionHarness::auth_message(h.user_token({1}), "4"));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 4u) << TestClient::dump(msgs);
  EXPECT_EQ(msgs[0].at("type"), "auth_response");
  EXPECT_EQ(msgs[0].at("id"), 4);
  EXPECT_EQ(msgs[1], obj(R"({"type":"error","error":"forbidden","message":
      "the new token does not cover the telemetry subscription of device 2: it was removed",
      "channel":"telemetry","device_id":2})"));
  EXPECT_EQ(msgs[2].at("channel"), "telemetry");
  EXPECT_EQ(msgs[2].at("device_id"), 3);
  EXPECT_EQ(msgs[3].at("channel"), "devices");
  EXPECT_EQ(msgs[3].at("device_id"), 3);
  EXPECT_EQ(c->conn.subscription_count(), 2u);  // telemetry 1 and every device
  EXPECT_EQ(h.shard.registrations(), 2u) << "removed from the hub's index too";

  // The removed ones are gone from the shard too: device 2 reaches the connection only through
  // the every-device subscription, which the token now filters out.
  h.publish(telemetry(2, {reading("t", 1)}));
  h.publish(status_event(3, model::DeviceStatus::online, model::DeviceStatus::offline));
  EXPECT_TRUE(c->read().empty());
  h.publish(telemetry(1, {reading("t", 1)}));
  EXPECT_EQ(c->read_one().at("device_id"), 1);
}

TEST(SessionAuth, RefreshToARoleWithoutSystemRemovesTheSystemSubscription) {
  SessionHarness h;
  auto c = h.authed(h.admin_token("frank"));
  c->send(R"({"type":"subscribe","channel":"system","id":1})");
  ASSERT_EQ(c->read().size(), 1u);
  c->send(SessionHarness::auth_message(h.token({.sub = "frank", .role = auth::Role::user,
                                                 .all_devices = true})));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1], obj(R"({"type":"error","error":"forbidden","message":
      "the new token does not cover the system subscription: it was removed",
      "channel":"system","device_id":null})"));
  EXPECT_EQ(c->conn.subscription_count(), 0u);
  h.publish(system_event(10));
  EXPECT_TRUE(c->read().empty());
}

TEST(SessionAuth, RefreshWithABadTokenCloses4001) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"auth","token":"garbage","id":2})");
  auto msgs = c->read_until_close(close_code::auth_failed);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].at("error"), "invalid_token");
}

TEST(SessionAuth, RefreshAsAnotherUserMovesThePerUserCount) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.max_connections_per_user = 1;
  SessionHarness h(cfg);
  auto c = h.authed(h.admin_token("gina"));
  c->send(SessionHarness::auth_message(h.admin_token("hank")));
  EXPECT_EQ(c->read_one().at("user"), "hank");
  // gina's slot was given back, hank's is taken.
  h.authed(h.admin_token("gina"));
  auto other = h.connect();
  other->send(SessionHarness::auth_message(h.admin_token("hank")));
  EXPECT_EQ(other->read_until_close(close_code::too_many_connections).size(), 1u);
}

TEST(SessionAuth, TokenExpiringAtTheWarningThenClose4003AtExpiryPlusLeeway) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.idle_timeout = 0ms;  // no keepalive pings in the way
  SessionHarness h(cfg);
  auto c = h.authed(h.token({.ttl = std::chrono::seconds(120)}));
  // Warning 60 s before exp.
  EXPECT_EQ(c->host.deadline, FakeClock::steady + 60s);
  FakeClock::advance(60s);
  c->conn.on_deadline();
  EXPECT_EQ(c->read_one(), obj(R"({"type":"token_expiring","expires_at":"2026-01-01T12:02:00.000Z"})"));
  // Then the expiry, with the same leeway as verification.
  EXPECT_EQ(c->host.deadline, FakeClock::steady + 60s + h.cfg.auth.leeway);
  FakeClock::advance(60s + h.cfg.auth.leeway - 1ms);
  c->conn.on_deadline();
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  FakeClock::advance(1ms);
  c->conn.on_deadline();
  EXPECT_TRUE(c->read_until_close(close_code::token_expired).empty());
}

TEST(SessionAuth, TokenExpiringIsDueAtOnceWhenLessThanTheWarningRemains) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.idle_timeout = 0ms;
  SessionHarness h(cfg);
  auto c = h.authed(h.token({.ttl = std::chrono::seconds(30)}));
  EXPECT_LE(c->host.deadline, FakeClock::steady);
  c->conn.on_deadline();
  EXPECT_EQ(c->read_one().at("type"), "token_expiring");
  EXPECT_EQ(c->host.deadline, FakeClock::steady + 30s + h.cfg.auth.leeway);
}

TEST(SessionAuth, RefreshReArmsTheExpiry) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.idle_timeout = 0ms;
  SessionHarness h(cfg);
  auto c = h.authed(h.token({.ttl = std::chrono::seconds(120)}));
  FakeClock::advance(60s);
  c->conn.on_deadline();
  ASSERT_EQ(c->read_one().at("type"), "token_expiring");
  c->send(SessionHarness::auth_message(h.token({.ttl = std::chrono::seconds(600)})));
  EXPECT_EQ(c->read_one().at("expires_at"), "2026-01-01T12:11:00.000Z");
  EXPECT_EQ(c->host.deadline, FakeClock::steady + 540s);
  // The old token's expiry passes: nothing happens.
  FakeClock::advance(60s + h.cfg.auth.leeway);
  c->conn.on_deadline();
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  EXPECT_TRUE(c->read_frames().empty());
  // The new one's warning comes at its time.
  FakeClock::advance(540s - 60s - h.cfg.auth.leeway);
  c->conn.on_deadline();
  EXPECT_EQ(c->read_one().at("type"), "token_expiring");
}

}  // namespace
}  // namespace valtronics::session::test
