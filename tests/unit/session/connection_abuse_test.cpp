// session::Connection and the abuse bookkeeping: the unauthenticated count (taken at the
// upgrade, freed by the first auth or by the end of a connection that never authenticated),
// bad tokens counted against the connection's client address (auth message, handshake header,
// refresh) up to a ban, and limit violations counted.
#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

namespace close_code = protocol::close_code;
using Admission = ConnectionRegistry::Admission;

Connection::Options from(std::string address) {
  Connection::Options o;
  o.peer = std::move(address);
  return o;
}

std::string forged_token() {
  auth::Claims claims;
  claims.sub = "mallory";
  claims.role = auth::Role::admin;
  return auth::sign_token("another-secret", claims, std::chrono::hours(1), FakeClock::wall);
}

TEST(SessionAbuse, UnauthenticatedSlotFreedByAuthOrByTheEnd) {
  SessionHarness h;
  auto a = h.connect();
  auto b = h.connect();
  EXPECT_EQ(h.registry.unauthenticated(), 2u);
  a->send(SessionHarness::auth_message(h.admin_token()));
  a->read();
  ASSERT_TRUE(a->conn.authenticated());
  EXPECT_EQ(h.registry.unauthenticated(), 1u);
  // A refresh does not free it twice.
  a->send(SessionHarness::auth_message(h.admin_token()));
  a->read();
  EXPECT_EQ(h.registry.unauthenticated(), 1u);
  b.reset();  // never authenticated: its slot goes with it
  EXPECT_EQ(h.registry.unauthenticated(), 0u);
  a.reset();
  EXPECT_EQ(h.registry.unauthenticated(), 0u);
  EXPECT_EQ(h.registry.active(), 0u);
}

TEST(SessionAbuse, FailedAuthAndTimeoutFreeTheSlot) {
  SessionHarness h;
  auto c = h.connect();
  c->send(SessionHarness::auth_message(forged_token()));
  c->read_until_close(close_code::auth_failed);
  c.reset();
  EXPECT_EQ(h.registry.unauthenticated(), 0u);
  auto idle = h.connect();
  FakeClock::advance(h.cfg.auth.auth_timeout);
  idle->conn.on_deadline();
  idle->read_until_close(close_code::auth_failed);
  idle.reset();
  EXPECT_EQ(h.registry.unauthenticated(), 0u);
}

TEST(SessionAbuse, RegistryRefusesBeyondMaxUnauthenticated) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.max_unauthenticated = 2;
  SessionHarness h(cfg);
  auto a = h.connect();
  auto b = h.connect();
  EXPECT_EQ(h.registry.try_open(), Admission::at_max_unauthenticated);
  EXPECT_EQ(h.registry.active(), 2u);  // nothing taken by the refusal
  a->send(SessionHarness::auth_message(h.admin_token()));
  a->read();
  auto c = h.connect();  // a's slot is free again
  EXPECT_EQ(h.registry.unauthenticated(), 2u);
  EXPECT_EQ(h.registry.stats().unauthenticated_connections, 2u);
}

TEST(SessionAbuse, BadTokensAreCountedAgainstTheClientAddressUpToABan) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.auth_failures_before_ban = 3;
  SessionHarness h(cfg);
  const auto now = [] { return FakeClock::steady_now(); };
  // The auth message, the handshake header, a message whose token is not a string.
  auto a = h.connect(from("198.51.100.7"));
  a->send(SessionHarness::auth_message(forged_token()));
  a->read_until_close(close_code::auth_failed);
  auto b = h.connect(from("198.51.100.7"), std::string("not-a-jwt"));
  b->read_until_close(close_code::auth_failed);
  EXPECT_EQ(h.abuse.stats(now()).auth_failures, 2u);
  EXPECT_FALSE(h.abuse.refuse_if_banned("198.51.100.7", now()));
  auto other = h.connect(from("203.0.113.1"));
  other->send(SessionHarness::auth_message(forged_token()));
  other->read_until_close(close_code::auth_failed);
  auto c = h.connect(from("198.51.100.7"));
  c->send(R"({"type":"auth","token":42})");
  c->read_until_close(close_code::auth_failed);
  EXPECT_TRUE(h.abuse.refuse_if_banned("198.51.100.7", now()));
  EXPECT_FALSE(h.abuse.refuse_if_banned("203.0.113.1", now()));
  const auto s = h.abuse.stats(now());
  EXPECT_EQ(s.auth_failures, 4u);
  EXPECT_EQ(s.bans, 1u);
  EXPECT_EQ(s.banned_addresses, 1u);
}

TEST(SessionAbuse, AFailedRefreshCounts) {
  SessionHarness h;
  auto c = h.authed(h.admin_token(), from("198.51.100.9"));
  c->send(SessionHarness::auth_message(forged_token()));
  c->read_until_close(close_code::auth_failed);
  EXPECT_EQ(h.abuse.stats(FakeClock::steady_now()).auth_failures, 1u);
}

TEST(SessionAbuse, GoodTokensAreNotFailures) {
  SessionHarness h;
  auto c = h.authed(h.admin_token(), from("198.51.100.9"));
  EXPECT_EQ(h.abuse.stats(FakeClock::steady_now()).auth_failures, 0u);
}

TEST(SessionAbuse, RateLimitRejectionsAndTheFloodCloseAreLimitViolations) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.messages_per_second = 2;
  SessionHarness h(cfg);
  auto c = h.authed(h.admin_token(), from("198.51.100.10"));
  // The bucket holds 2; the auth message took one: one ping passes, four are rejected.
  for (int i = 0; i < 5; ++i) c->send(R"({"type":"ping"})");
  EXPECT_EQ(h.abuse.stats(FakeClock::steady_now()).limit_violations, 4u);
  for (int step = 0; step < 12 && c->conn.state() == Connection::State::open; ++step) {
    for (int i = 0; i < 3; ++i) c->send(R"({"type":"ping"})");
    FakeClock::advance(500ms);
  }
  ASSERT_NE(c->conn.state(), Connection::State::open);
  EXPECT_GT(h.abuse.stats(FakeClock::steady_now()).limit_violations, 4u);
}

}  // namespace
}  // namespace valtronics::session::test
