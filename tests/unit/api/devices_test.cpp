// Tests of /api/v1/devices (api/devices.cpp) against a real engine on a temporary SQLite file:
// each route's success, and its errors in the order of checks: 401, 403 per role, 400 naming the
// field, 404, 409; what analysts and users may see.
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace valtronics::api {
namespace {

using namespace test;
using auth::Role;
namespace json = boost::json;

constexpr const char* kDevices = "/api/v1/devices";

class DevicesApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    ok(Method::post, kDevices, R"({"id":1,"name":"Boiler","location":"Basement"})");
    ok(Method::post, kDevices, R"({"id":2,"name":"Fan","device_type":"actuator"})");
  }
};

TEST_F(DevicesApiTest, CreateGetListUpdateDelete) {
  auto created = call(Method::post, kDevices, token_for(Role::operator_),
                      R"({"name":"Pump","status":"online"})");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.data().at("id"), 3);  // next after the highest id
  EXPECT_EQ(created.data().at("status"), "online");

  auto one = call(Method::get, "/api/v1/devices/1", token_for(Role::user, {1}));
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(one.data().at("name"), "Boiler");
  EXPECT_EQ(one.data().at("last_seen"), nullptr);

  auto page = call(Method::get, "/api/v1/devices?size=2&page=2", token_for(Role::analyst, {}, true));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.data().as_array().size(), 1u);
  EXPECT_EQ(page.body.at("pagination"),
            json::parse(R"({"page":2,"size":2,"total":3,"pages":2,"has_next":false,)"
                        R"("has_prev":true})"));
  auto actuators = ok(Method::get, "/api/v1/devices?device_type=actuator");
  ASSERT_EQ(actuators.as_array().size(), 1u);
  EXPECT_EQ(actuators.as_array()[0].at("id"), 2);
  EXPECT_EQ(ok(Method::get, "/api/v1/devices?status=online").as_array().size(), 1u);

  auto patched = call(Method::patch, "/api/v1/devices/1", token_for(Role::admin),
                      R"({"location":null,"model":"B-2"})");
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(patched.data().at("location"), "");
  EXPECT_EQ(patched.data().at("model"), "B-2");
  EXPECT_EQ(call(Method::put, "/api/v1/devices/1", token_for(Role::admin), R"({"name":"B"})")
                .data()
                .at("name"),
            "B");

  auto gone = call(Method::delete_, "/api/v1/devices/2", token_for(Role::admin));
  EXPECT_EQ(gone.status, 200);
  EXPECT_EQ(gone.data().at("name"), "Fan");
  EXPECT_EQ(call(Method::get, "/api/v1/devices/2", token_for(Role::admin)).status, 404);
}

TEST_F(DevicesApiTest, StatusReportAndLatestTelemetry) {
  auto r = call(Method::put, "/api/v1/devices/1/status", token_for(Role::operator_),
                R"({"status":"maintenance","reason":"Calibration","metadata":{"ticket":4}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.data().at("status"), "maintenance");
  EXPECT_EQ(r.data().at("metadata").at("ticket"), 4);

  EXPECT_EQ(call(Method::post, "/api/v1/telemetry", token_for(Role::admin),
                 R"({"device_id":1,"metric_name":"temperature","metric_value":21.5,"unit":"C"})")
                .status,
            202);
  auto latest = call(Method::get, "/api/v1/devices/1/telemetry/latest", token_for(Role::user, {1}));
  EXPECT_EQ(latest.status, 200);
  EXPECT_EQ(latest.data().at("device_id"), 1);
  EXPECT_EQ(latest.data().at("telemetry").at("temperature").at("value"), 21.5);
  EXPECT_EQ(latest.data().at("telemetry").at("temperature").at("unit"), "C");
  EXPECT_EQ(ok(Method::get, "/api/v1/devices/2/telemetry/latest"),
            json::parse(R"({"device_id":2,"telemetry":{}})"));
}

TEST_F(DevicesApiTest, Unauthenticated401) {
  for (auto [m, path] : std::initializer_list<std::pair<Method, const char*>>{
           {Method::get, kDevices},
           {Method::post, kDevices},
           {Method::get, "/api/v1/devices/1"},
           {Method::put, "/api/v1/devices/1"},
           {Method::patch, "/api/v1/devices/1"},
           {Method::delete_, "/api/v1/devices/1"},
           {Method::put, "/api/v1/devices/1/status"},
           {Method::get, "/api/v1/devices/1/telemetry/latest"}}) {
    auto r = call(m, path);
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(r.code(), "UNAUTHORIZED");
    EXPECT_EQ(r.message(), "missing Authorization: Bearer token");
    EXPECT_EQ(call(m, path, std::string("not-a-jwt")).status, 401) << path;
  }
}

TEST_F(DevicesApiTest, RolesPerRoute403) {
  // Reads: every role but device.
  for (Role role : {Role::admin, Role::operator_, Role::analyst, Role::user})
    EXPECT_EQ(call(Method::get, kDevices, token_for(role, {}, true)).status, 200);
  auto d = call(Method::get, "/api/v1/devices/1", token_for(Role::device, {1}));
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.code(), "FORBIDDEN");
  EXPECT_EQ(d.message(), "device tokens may only ingest telemetry");
  // Writes: admin and operator.
  for (Role role : {Role::analyst, Role::user, Role::device}) {
    for (auto [m, path] : std::initializer_list<std::pair<Method, const char*>>{
             {Method::post, kDevices},
             {Method::patch, "/api/v1/devices/1"},
             {Method::delete_, "/api/v1/devices/1"},
             {Method::put, "/api/v1/devices/1/status"}}) {
      auto r = call(m, path, token_for(role, {1}), R"({"name":"x"})");
      EXPECT_EQ(r.status, 403) << path;
      EXPECT_EQ(r.message(), "admin or operator token required");
    }
  }
  EXPECT_EQ(ok(Method::get, "/api/v1/devices/1").at("name"), "Boiler");  // nothing changed
}

TEST_F(DevicesApiTest, Validation400NamesTheField) {
  const auto admin = token_for(Role::admin);
  struct Case {
    Method m;
    const char* target;
    const char* body;
    const char* field;
  };
  for (const auto& c : {
           Case{Method::get, "/api/v1/devices?page=0", "", "page"},
           Case{Method::get, "/api/v1/devices?size=101", "", "size"},
           Case{Method::get, "/api/v1/devices?status=asleep", "", "status"},
           Case{Method::get, "/api/v1/devices?device_type=robot", "", "device_type"},
           Case{Method::get, "/api/v1/devices?page=%zz", "", "page"},
           Case{Method::get, "/api/v1/devices/abc", "", "id"},
           Case{Method::post, kDevices, "", "body"},
           Case{Method::post, kDevices, "[1]", "body"},
           Case{Method::post, kDevices, "{", "body"},
           Case{Method::post, kDevices, R"({"location":"x"})", "name"},
           Case{Method::post, kDevices, R"({"name":"x","id":0})", "id"},
           Case{Method::post, kDevices, R"({"name":"x","colour":"red"})", "colour"},
           Case{Method::patch, "/api/v1/devices/1", "{}", "body"},
           Case{Method::patch, "/api/v1/devices/1", R"({"status":"online"})", "status"},
           Case{Method::put, "/api/v1/devices/1/status", R"({"status":"asleep"})", "status"},
           Case{Method::put, "/api/v1/devices/x/status", R"({"status":"online"})", "id"},
       }) {
    auto r = call(c.m, c.target, admin, c.body);
    EXPECT_EQ(r.status, 400) << c.target << " " << c.body;
    EXPECT_EQ(r.code(), "VALIDATION_ERROR") << c.target << " " << c.body;
    EXPECT_EQ(r.field(), c.field) << c.target << " " << c.body << ": " << r.message();
  }
  EXPECT_EQ(call(Method::get, "/api/v1/devices?status=asleep", admin).message(),
            "status must be one of online, offline, warning, error, maintenance");
}

TEST_F(DevicesApiTest, UnknownDevices404) {
  const auto admin = token_for(Role::admin);
  auto r = call(Method::get, "/api/v1/devices/99", admin);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.code(), "NOT_FOUND");
  EXPECT_EQ(r.message(), "device 99 not found");
  EXPECT_EQ(r.body.at("error").at("details"), json::parse(R"({"resource":"device","id":99})"));
  EXPECT_EQ(call(Method::get, "/api/v1/devices/0", admin).message(), "device 0 not found");
  EXPECT_EQ(call(Method::patch, "/api/v1/devices/99", admin, R"({"name":"x"})").status, 404);
  EXPECT_EQ(call(Method::delete_, "/api/v1/devices/99", admin).status, 404);
  EXPECT_EQ(call(Method::put, "/api/v1/devices/99/status", admin, R"({"status":"online"})").status,
            404);
  EXPECT_EQ(call(Method::get, "/api/v1/devices/99/telemetry/latest", admin).status, 404);
  // A patch of an unknown device is 404 even when the patch itself is invalid: the record is
  // looked up first, on the engine thread.
  EXPECT_EQ(call(Method::patch, "/api/v1/devices/99", admin, R"({"name":""})").status, 404);
}

TEST_F(DevicesApiTest, ExistingId409) {
  auto r = call(Method::post, kDevices, token_for(Role::admin), R"({"id":1,"name":"Again"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.code(), "CONFLICT");
  EXPECT_EQ(r.message(), "device 1 already exists");
  EXPECT_EQ(r.field(), "id");
}

TEST_F(DevicesApiTest, AnalystsAndUsersSeeOnlyTheirDevices) {
  const auto user = token_for(Role::user, {2});
  auto list = call(Method::get, kDevices, user);
  ASSERT_EQ(list.data().as_array().size(), 1u);
  EXPECT_EQ(list.data().as_array()[0].at("id"), 2);
  EXPECT_EQ(list.body.at("pagination").at("total"), 1);
  // Another device is absent, not forbidden: its existence is not disclosed.
  auto hidden = call(Method::get, "/api/v1/devices/1", user);
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(hidden.message(), "device 1 not found");
  EXPECT_EQ(call(Method::get, "/api/v1/devices/1/telemetry/latest", token_for(Role::analyst, {2}))
                .status,
            404);
}

}  // namespace
}  // namespace valtronics::api
