// Tests of /api/v1/alert-rules (api/rules.cpp) against a real engine: CRUD and pagination, admin
// and operator only (401, 403 for every other role), 400 naming the field, 404.
#include <gtest/gtest.h>

#include "api_fixture.hpp"

namespace valtronics::api {
namespace {

using namespace test;
using auth::Role;
namespace json = boost::json;

constexpr const char* kRules = "/api/v1/alert-rules";
constexpr const char* kRule =
    R"({"name":"Hot","metric":"temperature","condition":"gt","threshold":30})";

using RulesApiTest = ApiTest;

TEST_F(RulesApiTest, CreateGetListUpdateDelete) {
  auto created = call(Method::post, kRules, token_for(Role::operator_), kRule);
  EXPECT_EQ(created.status, 201);
  const auto id = created.data().at("id").as_int64();
  EXPECT_EQ(created.data().at("severity"), "warning");
  for (int i = 0; i < 4; ++i)
    ok(Method::post, kRules,
       R"({"name":"R)" + std::to_string(i) +
           R"(","metric":"humidity","condition":"lt","threshold":10,"cooldown":"30s"})");

  EXPECT_EQ(ok(Method::get, "/api/v1/alert-rules/" + std::to_string(id)).at("name"), "Hot");
  auto page = call(Method::get, "/api/v1/alert-rules?size=2&page=3", token_for(Role::admin));
  EXPECT_EQ(page.status, 200);
  ASSERT_EQ(page.data().as_array().size(), 1u);  // the page is cut from every rule, by id
  EXPECT_EQ(page.data().as_array()[0].at("name"), "R3");
  EXPECT_EQ(page.body.at("pagination"),
            json::parse(R"({"page":3,"size":2,"total":5,"pages":3,"has_next":false,)"
                        R"("has_prev":true})"));
  EXPECT_TRUE(ok(Method::get, "/api/v1/alert-rules?page=9").as_array().empty());

  auto patched = call(Method::patch, "/api/v1/alert-rules/" + std::to_string(id),
                      token_for(Role::admin), R"({"threshold":35,"severity":"critical"})");
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(patched.data().at("threshold").to_number<double>(), 35.0);
  EXPECT_EQ(patched.data().at("severity"), "critical");
  EXPECT_EQ(patched.data().at("metric"), "temperature");

  auto gone = call(Method::delete_, "/api/v1/alert-rules/" + std::to_string(id),
                   token_for(Role::admin));
  EXPECT_EQ(gone.status, 200);
  EXPECT_EQ(gone.data().at("threshold").to_number<double>(), 35.0);
  EXPECT_EQ(call(Method::get, "/api/v1/alert-rules/" + std::to_string(id),
                 token_for(Role::admin))
                .status,
            404);
}

TEST_F(RulesApiTest, AdminAndOperatorOnly) {
  ok(Method::post, kRules, kRule);
  EXPECT_EQ(call(Method::get, kRules).status, 401);
  EXPECT_EQ(call(Method::post, kRules, std::nullopt, kRule).code(), "UNAUTHORIZED");
  for (Role role : {Role::analyst, Role::user, Role::device}) {
    for (auto [m, path] : std::initializer_list<std::pair<Method, const char*>>{
             {Method::get, kRules},
             {Method::post, kRules},
             {Method::get, "/api/v1/alert-rules/1"},
             {Method::put, "/api/v1/alert-rules/1"},
             {Method::delete_, "/api/v1/alert-rules/1"}}) {
      auto r = call(m, path, token_for(role, {1}, true), kRule);
      EXPECT_EQ(r.status, 403) << auth::to_string(role) << " " << path;
      EXPECT_EQ(r.message(), "admin or operator token required");
    }
  }
  EXPECT_EQ(call(Method::get, kRules, token_for(Role::operator_)).status, 200);
  EXPECT_EQ(ok(Method::get, kRules).as_array().size(), 1u);  // nothing was created or deleted
}

TEST_F(RulesApiTest, Validation400NamesTheField) {
  ok(Method::post, kRules, kRule);
  const auto admin = token_for(Role::admin);
  struct Case {
    Method m;
    const char* target;
    const char* body;
    const char* field;
  };
  for (const auto& c : {
           Case{Method::get, "/api/v1/alert-rules?size=0", "", "size"},
           Case{Method::get, "/api/v1/alert-rules/x", "", "id"},
           Case{Method::post, kRules, R"({"name":"x","condition":"gt","threshold":1})", "metric"},
           Case{Method::post, kRules,
                R"({"name":"x","metric":"t","condition":"between","threshold":1})", "condition"},
           Case{Method::post, kRules, R"({"name":"x","metric":"t","condition":"gt","threshold":1,)"
                                      R"("device_id":1,"device_type":"sensor"})",
                "device_type"},
           Case{Method::post, kRules, R"({"name":"x","metric":"t","condition":"gt","threshold":1,)"
                                      R"("id":5})",
                "id"},
           Case{Method::post, kRules, "null", "body"},
           Case{Method::put, "/api/v1/alert-rules/1", R"({"duration":-1})", "duration"},
           Case{Method::patch, "/api/v1/alert-rules/1", R"({"metric":null})", "metric"},
           Case{Method::patch, "/api/v1/alert-rules/1", "{}", "body"},
       }) {
    auto r = call(c.m, c.target, admin, c.body);
    EXPECT_EQ(r.status, 400) << c.target << " " << c.body;
    EXPECT_EQ(r.code(), "VALIDATION_ERROR");
    EXPECT_EQ(r.field(), c.field) << c.target << " " << c.body << ": " << r.message();
  }
  EXPECT_EQ(ok(Method::get, "/api/v1/alert-rules/1").at("metric"), "temperature");
}

TEST_F(RulesApiTest, UnknownRules404) {
  const auto admin = token_for(Role::admin);
  auto r = call(Method::get, "/api/v1/alert-rules/7", admin);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.message(), "alert rule 7 not found");
  EXPECT_EQ(r.body.at("error").at("details"), json::parse(R"({"resource":"alert rule","id":7})"));
  EXPECT_EQ(call(Method::put, "/api/v1/alert-rules/7", admin, R"({"threshold":1})").status, 404);
  EXPECT_EQ(call(Method::delete_, "/api/v1/alert-rules/7", admin).status, 404);
  EXPECT_EQ(call(Method::get, "/api/v1/alert-rules/0", admin).message(), "alert rule 0 not found");
}

}  // namespace
}  // namespace valtronics::api
