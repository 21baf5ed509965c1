// Tests of /api/v1/alerts (api/alerts.cpp) against a real engine: a rule raises alerts from
// ingested readings; list filters and pagination, acknowledge and resolve (who, notes, 409
// INVALID_STATE), roles (401, 403), what an analyst limited to some devices may see and act on
// (404 for the others), 400 naming the parameter or field, 404.
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace valtronics::api {
namespace {

using namespace test;
using auth::Role;
namespace json = boost::json;

class AlertsApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    ok(Method::post, "/api/v1/alert-rules",
       R"({"name":"Hot","metric":"temperature","condition":"gt","threshold":30,)"
       R"("severity":"critical"})");
    ok(Method::post, "/api/v1/alert-rules",
       R"({"name":"Damp","metric":"humidity","condition":"gt","threshold":80})");
    // Device 1 gets both alerts, device 2 one.
    EXPECT_EQ(call(Method::post, "/api/v1/telemetry/batch", token_for(Role::admin),
                   R"([{"device_id":1,"metric_name":"temperature","metric_value":35},
                       {"device_id":1,"metric_name":"humidity","metric_value":90},
                       {"device_id":2,"metric_name":"temperature","metric_value":40}])")
                  .status,
              202);
    engine->flush();  // the alerts are committed (hence listed) once the writer is done
    auto all = ok(Method::get, "/api/v1/alerts");
    ASSERT_EQ(all.as_array().size(), 3u) << json::serialize(all);
  }
  std::int64_t alert_of(std::int64_t device, const char* title) {
    const auto all = ok(Method::get, "/api/v1/alerts");
    for (const auto& a : all.as_array())
      if (a.at("device_id") == device && a.at("title") == title) return a.at("alert_id").as_int64();
    ADD_FAILURE() << "no alert " << title << " on device " << device;
    return 0;
  }
};

TEST_F(AlertsApiTest, ListFiltersAndPagination) {
  auto admin = token_for(Role::admin);
  EXPECT_EQ(ok(Method::get, "/api/v1/alerts?severity=critical").as_array().size(), 2u);
  EXPECT_EQ(ok(Method::get, "/api/v1/alerts?device_id=1").as_array().size(), 2u);
  EXPECT_EQ(ok(Method::get, "/api/v1/alerts?device_id=2,1&severity=warning").as_array().size(), 1u);
  EXPECT_EQ(ok(Method::get, "/api/v1/alerts?status=resolved").as_array().size(), 0u);
  EXPECT_EQ(ok(Method::get, "/api/v1/alerts?alert_type=threshold").as_array().size(), 3u);
  const auto first = ok(Method::get, "/api/v1/alerts").as_array()[0].at("alert_id").as_int64();
  EXPECT_EQ(ok(Method::get, "/api/v1/alerts?since_id=" + std::to_string(first)).as_array().size(),
            2u);
  auto page = call(Method::get, "/api/v1/alerts?size=2&page=2", admin);
  EXPECT_EQ(page.data().as_array().size(), 1u);
  EXPECT_EQ(page.body.at("pagination"),
            json::parse(R"({"page":2,"size":2,"total":3,"pages":2,"has_next":false,)"
                        R"("has_prev":true})"));
}

TEST_F(AlertsApiTest, AcknowledgeThenResolveThenInvalidState) {
  const auto id = alert_of(1, "Hot");
  const auto path = "/api/v1/alerts/" + std::to_string(id);
  auto ack = call(Method::post, path + "/acknowledge", token_for(Role::analyst, {}, true),
                  R"({"notes":"looking"})");
  EXPECT_EQ(ack.status, 200);
  EXPECT_EQ(ack.data().at("status"), "acknowledged");
  EXPECT_EQ(ack.data().at("acknowledged_by"), "analyst-1");
  EXPECT_EQ(ack.data().at("notes"), "looking");

  auto again = call(Method::post, path + "/acknowledge", token_for(Role::operator_));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.code(), "INVALID_STATE");
  EXPECT_EQ(again.message(), "alert " + std::to_string(id) + " is already acknowledged");
  EXPECT_EQ(again.body.at("error").at("details"), json::parse(R"({"status":"acknowledged"})"));

  auto resolved = call(Method::post, path + "/resolve", token_for(Role::admin));  // empty body
  EXPECT_EQ(resolved.status, 200);
  EXPECT_EQ(resolved.data().at("status"), "resolved");
  EXPECT_EQ(resolved.data().at("resolved_by"), "admin-1");
  EXPECT_EQ(call(Method::post, path + "/resolve", token_for(Role::admin)).code(), "INVALID_STATE");
  EXPECT_EQ(call(Method::post, path + "/acknowledge", token_for(Role::admin)).status, 409);
  EXPECT_EQ(ok(Method::get, path).at("status"), "resolved");
}

TEST_F(AlertsApiTest, Roles) {
  const auto id = alert_of(1, "Damp");
  const auto path = "/api/v1/alerts/" + std::to_string(id);
  EXPECT_EQ(call(Method::get, "/api/v1/alerts").status, 401);
  EXPECT_EQ(call(Method::post, path + "/resolve").code(), "UNAUTHORIZED");
  auto d = call(Method::get, "/api/v1/alerts", token_for(Role::device, {1}));
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.message(), "device tokens may only ingest telemetry");
  for (Role role : {Role::user, Role::device}) {
    auto r = call(Method::post, path + "/acknowledge", token_for(role, {1}, true));
    EXPECT_EQ(r.status, 403) << auth::to_string(role);
    EXPECT_EQ(r.message(), "admin, operator or analyst token required");
  }
  EXPECT_EQ(ok(Method::get, path).at("status"), "active");
  EXPECT_EQ(call(Method::get, path, token_for(Role::user, {1})).status, 200);
}

TEST_F(AlertsApiTest, LimitedAnalystSeesAndActsOnlyOnItsDevices) {
  const auto other = alert_of(1, "Hot");
  const auto own = alert_of(2, "Hot");
  const auto analyst = token_for(Role::analyst, {2});
  auto list = call(Method::get, "/api/v1/alerts", analyst);
  ASSERT_EQ(list.data().as_array().size(), 1u);
  EXPECT_EQ(list.data().as_array()[0].at("alert_id"), own);
  EXPECT_EQ(call(Method::get, "/api/v1/alerts?device_id=1", analyst).data().as_array().size(), 0u);
  EXPECT_EQ(call(Method::get, "/api/v1/alerts/" + std::to_string(other), analyst).status, 404);
  auto hidden =
      call(Method::post, "/api/v1/alerts/" + std::to_string(other) + "/resolve", analyst);
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(hidden.message(), "alert " + std::to_string(other) + " not found");
  EXPECT_EQ(ok(Method::get, "/api/v1/alerts/" + std::to_string(other)).at("status"), "active");
  EXPECT_EQ(
      call(Method::post, "/api/v1/alerts/" + std::to_string(own) + "/resolve", analyst).status,
      200);
}

TEST_F(AlertsApiTest, Validation400AndUnknown404) {
  const auto admin = token_for(Role::admin);
  struct Case {
    Method m;
    std::string target;
    const char* body;
    const char* field;
  };
  const auto id = std::to_string(alert_of(2, "Hot"));
  for (const auto& c : {
           Case{Method::get, "/api/v1/alerts?severity=fatal", "", "severity"},
           Case{Method::get, "/api/v1/alerts?status=open", "", "status"},
           Case{Method::get, "/api/v1/alerts?alert_type=x", "", "alert_type"},
           Case{Method::get, "/api/v1/alerts?device_id=a", "", "device_id"},
           Case{Method::get, "/api/v1/alerts?since_id=-1", "", "since_id"},
           Case{Method::get, "/api/v1/alerts?page=x", "", "page"},
           Case{Method::get, "/api/v1/alerts/-3", "", "id"},
           Case{Method::post, "/api/v1/alerts/" + id + "/acknowledge", R"({"note":"x"})", "note"},
           Case{Method::post, "/api/v1/alerts/" + id + "/resolve", R"({"notes":5})", "notes"},
           Case{Method::post, "/api/v1/alerts/" + id + "/resolve", "[]", "body"},
       }) {
    auto r = call(c.m, c.target, admin, c.body);
    EXPECT_EQ(r.status, 400) << c.target << " " << c.body;
    EXPECT_EQ(r.code(), "VALIDATION_ERROR");
    EXPECT_EQ(r.field(), c.field) << c.target << " " << c.body << ": " << r.message();
  }
  EXPECT_EQ(call(Method::get, "/api/v1/alerts?severity=fatal", admin).message(),
            "severity must be one of info, warning, critical (got 'fatal')");
  EXPECT_EQ(ok(Method::get, "/api/v1/alerts/" + id).at("status"), "active");

  auto missing = call(Method::get, "/api/v1/alerts/999", admin);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.message(), "alert 999 not found");
  EXPECT_EQ(call(Method::post, "/api/v1/alerts/999/acknowledge", admin).status, 404);
  EXPECT_EQ(call(Method::post, "/api/v1/alerts/0/resolve", admin).status, 404);
}

}  // namespace
}  // namespace valtronics::api
