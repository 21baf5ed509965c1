// Tests of the steps every handler shares (api/call, api/body_fields): bearer authentication
// (401 with its reason), the role check through auth/policy (403 with the policy's reason), and
// JSON bodies (an object required, an optional empty body).
#include "api/call.hpp"

#include <gtest/gtest.h>

#include "api/api_test_support.hpp"
#include "api/body_fields.hpp"
#include "api_fixture.hpp"

namespace valtronics::api {
namespace {

using namespace test;

Request with_authorization(std::optional<std::string> value) {
  Request r;
  r.path = "/api/v1/devices";
  r.authorization = std::move(value);
  return r;
}

TEST(CallAuthenticate, BearerTokenOr401WithItsReason) {
  auth::JwtVerifier verifier(kSecret, std::chrono::seconds(5));
  auto ok = authenticate(with_authorization("Bearer " + token_for(auth::Role::analyst, {3, 1})),
                         verifier);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->role, auth::Role::analyst);
  EXPECT_EQ(ok->devices, (std::vector<std::int64_t>{1, 3}));

  auto missing = authenticate(with_authorization(std::nullopt), verifier);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, model::DomainError::Kind::unauthorized);
  EXPECT_EQ(status_of(missing.error()), 401);
  EXPECT_EQ(missing.error().message, "missing Authorization: Bearer token");

  for (std::string bad : {"Basic abc", "Bearer", "Bearer ", "bearer x", "Token x"}) {
    auto r = authenticate(with_authorization(bad), verifier);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(code_of(r.error()), "UNAUTHORIZED");
    EXPECT_EQ(r.error().message, "Authorization header must be 'Bearer <token>'") << bad;
  }

  auto forged = authenticate(
      with_authorization("Bearer " + auth::sign_token("another-secret",
                                                      claims_of(auth::Role::admin),
                                                      std::chrono::hours(1), util::Clock::now())),
      verifier);
  ASSERT_FALSE(forged);
  EXPECT_EQ(status_of(forged.error()), 401);
  EXPECT_FALSE(forged.error().message.empty());

  auto expired = authenticate(
      with_authorization("Bearer " + auth::sign_token(kSecret, claims_of(auth::Role::admin),
                                                      std::chrono::seconds(1),
                                                      util::Clock::now() - std::chrono::hours(1))),
      verifier);
  ASSERT_FALSE(expired);
  EXPECT_EQ(status_of(expired.error()), 401);
}

TEST(CallAuthorize, ForbiddenWithThePolicysReason) {
  EXPECT_TRUE(authorize(claims_of(auth::Role::operator_), auth::Action::write));
  auto r = authorize(claims_of(auth::Role::analyst), auth::Action::write);
  ASSERT_FALSE(r);
  EXPECT_EQ(status_of(r.error()), 403);
  EXPECT_EQ(code_of(r.error()), "FORBIDDEN");
  EXPECT_EQ(r.error().message, "admin or operator token required");
  auto d = authorize(claims_of(auth::Role::device), auth::Action::read);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, "device tokens may only ingest telemetry");
}

TEST(CallBody, ObjectRequired) {
  EXPECT_TRUE(body::parse_object(R"({"name":"x"})"));
  for (std::string bad : {"", "  \r\n", "[1]", "42", "{", "nul", R"({"a":1} x)"}) {
    auto r = body::parse_object(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(status_of(r.error()), 400);
    EXPECT_EQ(field_of(r.error()), "body") << bad;
  }
  EXPECT_EQ(body::parse_object("").error().message, "a JSON object body is required");
  EXPECT_EQ(body::parse_object("[]").error().message, "body must be a JSON object");
}

TEST(CallBody, OptionalEmptyBodyIsAnEmptyObject) {
  auto r = body::parse_object("", true);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  EXPECT_TRUE(body::parse_object(" \n", true));
  EXPECT_FALSE(body::parse_object("[]", true));
}

}  // namespace
}  // namespace valtronics::api
