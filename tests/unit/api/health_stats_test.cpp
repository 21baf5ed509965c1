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
  ASSERT_TRUE(connections.try_open());
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
  ASSERT_TRUE(connections.try_open());
  connections.count_received(3);
  auto r = call(Method::get, "/api/v1/ws/stats", token_for(Role::admin));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.at("success"), true);
  const auto& d = r.data().as_object();
  for (const char* key : {"totalConnections", "activeConnections", "messagesReceived",
                          "messagesSent", "averageConnectionDuration", "messagesPerConnection",
                          "eventsPublished", "writeTimeouts"})
    EXPECT_TRUE(d.contains(key)) << key;
  EXPECT_EQ(d.size(), 8u);
  EXPECT_EQ(d.at("activeConnections"), 1);
  EXPECT_EQ(d.at("messagesReceived"), 3);
  EXPECT_EQ(d.at("eventsPublished"), hub.published());

  EXPECT_EQ(call(Method::get, "/api/v1/ws/stats").status, 401);
  for (Role role : {Role::operator_, Role::analyst, Role::user, Role::device}) {
    auto f = call(Method::get, "/api/v1/ws/stats", token_for(role, {1}, true));
    EXPECT_EQ(f.status, 403) << auth::to_string(role);
    EXPECT_EQ(f.message(), "admin token required");
  }
}

}  // namespace
}  // namespace valtronics::api
