// Tests of the route table (api/routes): path splitting, patterns with parameters, 404 with the
// envelope for an unknown path, 405 with Allow for a known path and another method, and the
// API's own table (every route reaches its handler, in the documented order of checks).
#include "api/routes.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_fixture.hpp"
#include "protocol/json_writer.hpp"

namespace valtronics::api {
namespace {

using namespace test;
using V = std::vector<std::string_view>;

TEST(SplitPath, SegmentsWithOneTrailingSlashIgnored) {
  EXPECT_EQ(split_path("/api/v1/devices"), (V{"api", "v1", "devices"}));
  EXPECT_EQ(split_path("/api/v1/devices/"), (V{"api", "v1", "devices"}));
  EXPECT_EQ(split_path("/api/v1/devices/7/telemetry/latest"),
            (V{"api", "v1", "devices", "7", "telemetry", "latest"}));
  EXPECT_EQ(split_path("/api/v1//devices"), (V{"api", "v1", "", "devices"}));
  EXPECT_EQ(split_path("/api/v1/devices//"), (V{"api", "v1", "devices", ""}));
  EXPECT_EQ(split_path("/"), V{});
  EXPECT_EQ(split_path(""), V{});
}

// A table of recording handlers.
class RouteTableTest : public ApiTest {
 protected:
  RouteTableTest() {
    auto record = [this](std::string name) {
      return [this, name](Call& c) {
        calls.push_back(name);
        params = std::vector<std::string>(c.params.begin(), c.params.end());
        c.respond(Response{200, boost::json::value(name), {}});
      };
    };
    table.add(Method::get, "/things", record("list"))
        .add(Method::post, "/things", record("create"))
        .add(Method::get, "/things/{id}", record("get"))
        .add(Method::delete_, "/things/{id}", record("delete"))
        .add(Method::put, "/things/{id}/parts/{part}", record("part"));
  }
  Response dispatch(Method m, std::string path) {
    Request req;
    req.method = m;
    req.path = std::move(path);
    Response out;
    int answers = 0;
    table.dispatch(req, *ctx, [&](Response r) {
      ++answers;
      out = std::move(r);
    });
    EXPECT_EQ(answers, 1);
    return out;
  }

  RouteTable table;
  std::vector<std::string> calls;
  std::vector<std::string> params;
};

TEST_F(RouteTableTest, MatchesMethodAndPatternAndPassesParameters) {
  EXPECT_EQ(dispatch(Method::get, "/things").body, "list");
  EXPECT_EQ(dispatch(Method::post, "/things/").body, "create");
  EXPECT_EQ(dispatch(Method::get, "/things/42").body, "get");
  EXPECT_EQ(params, (std::vector<std::string>{"42"}));
  EXPECT_EQ(dispatch(Method::put, "/things/a%20b/parts/7").body, "part");
  EXPECT_EQ(params, (std::vector<std::string>{"a%20b", "7"}));  // not decoded
  EXPECT_EQ(dispatch(Method::get, "/things//").body, "get");  // an empty id is the handler's
  EXPECT_EQ(params, (std::vector<std::string>{""}));
  EXPECT_EQ(calls, (std::vector<std::string>{"list", "create", "get", "part", "get"}));
}

TEST_F(RouteTableTest, UnknownPathIs404WithTheEnvelope) {
  for (std::string path : {"/nothing", "/things/1/2", "//things", "/things/1/parts", "", "/",
                           "things", "/THINGS"}) {
    auto r = dispatch(Method::get, path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(protocol::to_json(r.body),
              R"({"success":false,"error":{"code":"NOT_FOUND","message":"no route for )" + path +
                  R"(","details":{}}})");
    EXPECT_TRUE(r.headers.empty());
  }
  EXPECT_TRUE(calls.empty());
}

TEST_F(RouteTableTest, KnownPathWithAnotherMethodIs405WithAllow) {
  auto r = dispatch(Method::patch, "/things");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, POST");
  EXPECT_EQ(r.header("allow"), "GET, POST");
  EXPECT_EQ(protocol::to_json(r.body),
            R"({"success":false,"error":{"code":"METHOD_NOT_ALLOWED",)"
            R"("message":"use GET, POST on /things","details":{"allow":"GET, POST"}}})");
  auto one = dispatch(Method::other, "/things/9");
  EXPECT_EQ(one.status, 405);
  EXPECT_EQ(one.header("Allow"), "GET, DELETE");
  EXPECT_EQ(dispatch(Method::head, "/things/9/parts/1").header("Allow"), "PUT");
  EXPECT_TRUE(calls.empty());
  auto m = table.match("/things/9");
  ASSERT_TRUE(m);
  EXPECT_EQ(table.allow(m->route), "GET, DELETE");
}

// ---- the API's table ----

using ApiRoutesTest = ApiTest;

TEST_F(ApiRoutesTest, EveryRouteAndItsAllowHeader) {
  struct Expect {
    const char* path;
    const char* allow;
  };
  const Expect table[] = {
      {"/health", "GET, HEAD"},
      {"/api/v1/ws/stats", "GET"},
      {"/api/v1/telemetry", "POST, GET"},
      {"/api/v1/telemetry/batch", "POST"},
      {"/api/v1/telemetry/history", "GET"},
      {"/api/v1/telemetry/latest", "GET"},
      {"/api/v1/telemetry/export", "GET"},
      {"/api/v1/devices", "GET, POST"},
      {"/api/v1/devices/1", "GET, PUT, PATCH, DELETE"},
      {"/api/v1/devices/1/status", "PUT"},
      {"/api/v1/devices/1/telemetry/latest", "GET"},
      {"/api/v1/alert-rules", "GET, POST"},
      {"/api/v1/alert-rules/1", "GET, PUT, PATCH, DELETE"},
      {"/api/v1/alerts", "GET"},
      {"/api/v1/alerts/1", "GET"},
      {"/api/v1/alerts/1/acknowledge", "POST"},
      {"/api/v1/alerts/1/resolve", "POST"},
      // The dashboard's files (api/static_files.hpp; its own tests: static_files_test.cpp).
      {"/", "GET, HEAD"},
      {"/index.html", "GET, HEAD"},
      {"/assets/main-ABCD1234.js", "GET, HEAD"},
  };
  for (const auto& e : table) {
    auto m = routes().match(e.path);
    ASSERT_TRUE(m) << e.path;
    EXPECT_EQ(routes().allow(m->route), e.allow) << e.path;
    // Some method that is not allowed there: 405 before any token is looked at.
    auto r = call(Method::other, e.path);
    EXPECT_EQ(r.status, 405) << e.path;
    EXPECT_EQ(r.code(), "METHOD_NOT_ALLOWED");
    EXPECT_EQ(r.response.header("Allow"), e.allow);
    EXPECT_EQ(r.message(), std::string("use ") + e.allow + " on " + e.path);
  }
}

TEST_F(ApiRoutesTest, UnknownPathsAre404BeforeAnyTokenCheck) {
  for (std::string path : {"/api/v1/things", "/api/v1", "/api/v1/", "/api/v2/devices",
                           "/api/v1//devices", "/api/v1/devices/1/latest",
                           "/api/v1/devices/1/telemetry", "/api/v1/alerts/1/close",
                           "/api/v1/alert-rules/1/x", "/healthz", "/assets", "/assets/a/b",
                           "/index.htm"}) {
    auto r = call(Method::get, path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.code(), "NOT_FOUND") << path;
    EXPECT_EQ(r.message(), "no route for " + path);
  }
}

TEST_F(ApiRoutesTest, TrailingSlashAndQueryStrings) {
  EXPECT_EQ(call(Method::get, "/api/v1/devices/").status, 401);
  EXPECT_EQ(call(Method::get, "/api/v1/devices/?page=1", token_for(auth::Role::admin)).status,
            200);
  EXPECT_EQ(call(Method::get, "/health?x=1").status, 200);
  // An empty id segment reaches the handler: 400 naming id.
  auto r = call(Method::get, "/api/v1/devices//", token_for(auth::Role::admin));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.field(), "id");
}

}  // namespace
}  // namespace valtronics::api
