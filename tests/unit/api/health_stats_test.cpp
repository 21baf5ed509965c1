// Tests of GET /health (api/health.cpp, no token, no envelope) and GET /api/v1/ws/stats
// (api/stats.cpp, admin only).
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace valtronics::api {
namespace {

using namespace test;
using auth::Role;
namespace json = boost::json;

using HealthStatsTest = ApiTest;

TEST_F(HealthStatsTest, HealthNeedsNoTokenAndCountsConnections) {
  ASSERT_EQ(connections.try_open(), session::ConnectionRegistry::Admission::ok);
  for (Method m : {Method::get, Method::head}) {
    auto r = call(m, "/health");
    EXPECT_EQ(r.status, 200);
    const auto& o = r.body.as_object();
    EXPECT_EQ(o.size(), 4u);
    EXPECT_EQ(o.at("status"), "ok");
    EXPECT_EQ(o.at("storage").at("writable"), true);  // (issue 10) "degraded" when false
    EXPECT_TRUE(o.at("storage").at("queued_writes").is_number());
    EXPECT_EQ(o.at("active_connections"), 1);
    ASSERT_TRUE(o.at("time").is_string());
    EXPECT_TRUE(util::parse_iso8601(o.at("time").as_string()).has_value());
  }
  EXPECT_EQ(call(Method::post, "/health").status, 405);
}

TEST_F(HealthStatsTest, StatsForAdminsOnly) {
  ASSERT_EQ(connections.try_open(), session::ConnectionRegistry::Admission::ok);
  connections.count_received(3);
  connections.count_sent(7, 2);  // seven messages in two socket writes
  auto r = call(Method::get, "/api/v1/ws/stats", token_for(Role::admin));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.at("success"), true);
  const auto& d = r.data().as_object();
  for (const char* key : {"totalConnections", "activeConnections", "messagesReceived",
                          "messagesSent", "averageConnectionDuration", "messagesPerConnection",
                          "eventsPublished", "writeTimeouts", "unauthenticatedConnections",
                          "authFailures", "bans", "bannedAddresses", "bannedRefusals",
                          "limitViolations", "socketWrites", "conflatedUpdates"})
    EXPECT_TRUE(d.contains(key)) << key;
  EXPECT_EQ(d.size(), 16u);
  EXPECT_EQ(d.at("unauthenticatedConnections"), 1);  // the open slot above never authenticated
  EXPECT_EQ(d.at("activeConnections"), 1);
  EXPECT_EQ(d.at("messagesReceived"), 3);
  EXPECT_EQ(d.at("messagesSent"), 7);
  EXPECT_EQ(d.at("socketWrites"), 2);
  EXPECT_EQ(d.at("conflatedUpdates"), 0);
  EXPECT_EQ(d.at("eventsPublished"), hub.published());

  EXPECT_EQ(call(Method::get, "/api/v1/ws/stats").status, 401);
  for (Role role : {Role::operator_, Role::analyst, Role::user, Role::device}) {
    auto f = call(Method::get, "/api/v1/ws/stats", token_for(role, {1}, true));
    EXPECT_EQ(f.status, 403) << auth::to_string(role);
    EXPECT_EQ(f.message(), "admin token required");
  }
}

// (issue 10) A bad bearer token counts against the request's client address, up to a ban; a
// request without a token does not; the stats show the abuse figures.
TEST_F(HealthStatsTest, BadBearerTokensCountAndShowInTheStats) {
  stop();  // the engine's thread reads cfg
  cfg.limits.auth_failures_before_ban = 2;
  start();
  Request anonymous;
  anonymous.method = Method::get;
  anonymous.path = "/api/v1/devices";
  anonymous.client_address = "198.51.100.20";
  EXPECT_EQ(send(anonymous).response.status, 401);
  const auto now = std::chrono::steady_clock::now();
  EXPECT_EQ(abuse->stats(now).auth_failures, 0u);
  Request bad = anonymous;
  bad.authorization = "Bearer not.a.jwt";
  EXPECT_EQ(send(bad).response.status, 401);
  Request basic = anonymous;
  basic.authorization = "Basic YWRtaW46YWRtaW4=";
  EXPECT_EQ(send(basic).response.status, 401);
  EXPECT_EQ(abuse->stats(now).auth_failures, 2u);
  EXPECT_TRUE(abuse->refuse_if_banned("198.51.100.20", std::chrono::steady_clock::now()));
  EXPECT_FALSE(abuse->refuse_if_banned("198.51.100.21", std::chrono::steady_clock::now()));
  abuse->limit_violation("198.51.100.22", "test", now);

  auto r = call(Method::get, "/api/v1/ws/stats", token_for(Role::admin));
  ASSERT_EQ(r.status, 200);
  const auto& d = r.data().as_object();
  EXPECT_EQ(d.at("authFailures"), 2);
  EXPECT_EQ(d.at("bans"), 1);
  EXPECT_EQ(d.at("bannedAddresses"), 1);
  EXPECT_EQ(d.at("bannedRefusals"), 1);
  EXPECT_EQ(d.at("limitViolations"), 1);
  EXPECT_EQ(d.at("unauthenticatedConnections"), 0);
}

}  // namespace
}  // namespace valtronics::api
