// Tests of POST /api/v1/telemetry and /api/v1/telemetry/batch (api/ingest.cpp) against a real
// engine: 202 with the readings counted, 401, 400 naming the field (and the item), 403 for a
// device token outside its device (nothing applied), 404 DEVICE_NOT_FOUND with auto-registration
// off (nothing applied).
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace valtronics::api {
namespace {

using namespace test;
using auth::Role;
namespace json = boost::json;

using IngestApiTest = ApiTest;

TEST_F(IngestApiTest, AcceptedCountsReadings) {
  auto one = call(Method::post, "/api/v1/telemetry", token_for(Role::operator_),
                  R"({"device_id":4,"telemetry":{"t":{"value":1},"h":{"value":2}}})");
  EXPECT_EQ(one.status, 202);
  EXPECT_EQ(one.body, json::parse(R"({"success":true,"data":{"accepted":2}})"));
  auto batch = call(Method::post, "/api/v1/telemetry/batch", token_for(Role::device, {5}),
                    R"({"telemetry_data":[{"device_id":5,"metric_name":"t","metric_value":1},
                                          {"device_id":5,"metric_name":"t","metric_value":2}]})");
  EXPECT_EQ(batch.status, 202);
  EXPECT_EQ(batch.data().at("accepted"), 2);
  // Auto-registered, with their latest values.
  const auto latest = ok(Method::get, "/api/v1/devices/5/telemetry/latest");
  EXPECT_EQ(latest.at("telemetry").at("t").at("value").to_number<double>(), 2.0);
  EXPECT_EQ(ok(Method::get, "/api/v1/devices/4").at("name"), "Device 4");
}

TEST_F(IngestApiTest, Unauthenticated401BeforeTheBodyIsRead) {
  auto r = call(Method::post, "/api/v1/telemetry", std::nullopt, "not json");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.code(), "UNAUTHORIZED");
  EXPECT_EQ(call(Method::post, "/api/v1/telemetry/batch", std::string("x.y.z"), "[]").status, 401);
}

TEST_F(IngestApiTest, Invalid400NamesTheFieldAndItem) {
  auto r = call(Method::post, "/api/v1/telemetry", token_for(Role::admin),
                R"({"device_id":1,"metric_name":"t","metric_value":"hot"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "VALIDATION_ERROR");
  EXPECT_EQ(r.field(), "metric_value");
  EXPECT_EQ(r.message(), "metric_value must be a finite number");
  auto b = call(Method::post, "/api/v1/telemetry/batch", token_for(Role::admin),
                R"([{"device_id":1,"metric_name":"t","metric_value":1},{"device_id":-1}])");
  EXPECT_EQ(b.status, 400);
  EXPECT_EQ(b.body.at("error").at("details"), json::parse(R"({"index":1,"field":"device_id"})"));
  EXPECT_EQ(call(Method::post, "/api/v1/telemetry", token_for(Role::admin), "").field(), "body");
  EXPECT_EQ(call(Method::get, "/api/v1/devices/1", token_for(Role::admin)).status, 404);
}

TEST_F(IngestApiTest, DeviceTokenOutsideItsDevice403AppliesNothing) {
  auto r = call(Method::post, "/api/v1/telemetry/batch", token_for(Role::device, {7}),
                R"([{"device_id":7,"metric_name":"t","metric_value":1},
                    {"device_id":8,"metric_name":"t","metric_value":1}])");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.code(), "FORBIDDEN");
  EXPECT_EQ(r.message(), "token may not ingest telemetry for device 8");
  for (Role role : {Role::analyst, Role::user}) {
    auto u = call(Method::post, "/api/v1/telemetry", token_for(role, {7}, true),
                  R"({"device_id":7,"metric_name":"t","metric_value":1})");
    EXPECT_EQ(u.status, 403) << auth::to_string(role);
  }
  EXPECT_EQ(call(Method::get, "/api/v1/devices/7", token_for(Role::admin)).status, 404);
}

TEST_F(IngestApiTest, UnknownDeviceWithoutAutoRegistration404AppliesNothing) {
  stop();  // the engine's thread reads cfg
  cfg.ingest.auto_register = false;
  start();
  ok(Method::post, "/api/v1/devices", R"({"id":1,"name":"Known"})");
  auto r = call(Method::post, "/api/v1/telemetry/batch", token_for(Role::admin),
                R"([{"device_id":1,"metric_name":"t","metric_value":1},
                    {"device_id":3,"metric_name":"t","metric_value":1}])");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "DEVICE_NOT_FOUND");
  EXPECT_EQ(r.message(), "device 3 is not registered");
  EXPECT_EQ(r.body.at("error").at("details"), json::parse(R"({"device_id":3})"));
  EXPECT_EQ(ok(Method::get, "/api/v1/devices/1/telemetry/latest").at("telemetry"), json::object{});
}

}  // namespace
}  // namespace valtronics::api
