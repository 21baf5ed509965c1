// Tests of the REST layer's pure helpers: percent-decoding and query strings, path segments, list
// and integer parameters, pagination parameters and arithmetic, path ids, and the envelopes.
#include "net/rest_common.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <limits>

namespace valtronics::net::rest {
namespace {

namespace json = boost::json;

std::string field_of(const ApiError& e) {
  auto it = e.details.find("field");
  return it != e.details.end() && it->value().is_string() ? std::string(it->value().as_string())
                                                          : std::string();
}

// ---- percent-decoding and queries ----

TEST(RestPercentDecode, DecodesEscapesAndPlus) {
  EXPECT_EQ(percent_decode("abc"), "abc");
  EXPECT_EQ(percent_decode("a%20b"), "a b");
  EXPECT_EQ(percent_decode("a+b"), "a b");
  EXPECT_EQ(percent_decode("%2B%2b"), "++");
  EXPECT_EQ(percent_decode("%C2%B0C"), "\xC2\xB0" "C");
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_EQ(percent_decode("%2C"), ",");
}

TEST(RestPercentDecode, RejectsMalformedEscapes) {
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%4"));
  EXPECT_FALSE(percent_decode("abc%"));
  EXPECT_FALSE(percent_decode("%zz"));
  EXPECT_FALSE(percent_decode("%g1"));
}

TEST(RestTarget, SplitsAtFirstQuestionMark) {
  auto t = split_target("/api/v1/devices?page=2&q=a?b");
  EXPECT_EQ(t.path, "/api/v1/devices");
  EXPECT_EQ(t.query, "page=2&q=a?b");
  auto u = split_target("/api/v1/devices");
  EXPECT_EQ(u.path, "/api/v1/devices");
  EXPECT_EQ(u.query, "");
  EXPECT_EQ(split_target("/x?").query, "");
}

TEST(RestPath, SegmentsAfterPrefix) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(path_segments("/api/v1/devices", "/api/v1/"), V{"devices"});
  EXPECT_EQ(path_segments("/api/v1/devices/", "/api/v1/"), V{"devices"});
  EXPECT_EQ(path_segments("/api/v1/devices/7/telemetry/latest", "/api/v1/"),
            (V{"devices", "7", "telemetry", "latest"}));
  EXPECT_EQ(path_segments("/api/v1//devices", "/api/v1/"), (V{"", "devices"}));
  EXPECT_EQ(path_segments("/api/v1/", "/api/v1/"), V{});
  EXPECT_FALSE(path_segments("/api/v2/devices", "/api/v1/"));
  EXPECT_FALSE(path_segments("/api/v1", "/api/v1/"));
}

TEST(RestQuery, ParsesKeysAndValues) {
  auto q = parse_query("page=2&size=10&status=active%2Cresolved&name=a+b&flag&&=x");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->get("page"), "2");
  EXPECT_EQ(q->get("size"), "10");
  EXPECT_EQ(q->get("status"), "active,resolved");
  EXPECT_EQ(q->get("name"), "a b");
  EXPECT_EQ(q->get("flag"), "");
  EXPECT_EQ(q->get(""), "x");
  EXPECT_FALSE(q->get("missing"));
}

TEST(RestQuery, RepeatedKeysKeepOrderAndGetReturnsLast) {
  auto q = parse_query("status=active&status=resolved");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->get("status"), "resolved");
  EXPECT_EQ(q->all("status"), (std::vector<std::string_view>{"active", "resolved"}));
  EXPECT_TRUE(q->all("severity").empty());
}

TEST(RestQuery, EmptyQuery) {
  auto q = parse_query("");
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->items().empty());
}

TEST(RestQuery, MalformedEscapeNamesTheParameter) {
  auto q = parse_query("page=1&status=%zz");
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().http_status, 400);
  EXPECT_EQ(q.error().code, "VALIDATION_ERROR");
  EXPECT_EQ(field_of(q.error()), "status");
  auto k = parse_query("%=1");
  ASSERT_FALSE(k);
  EXPECT_EQ(field_of(k.error()), "query");
}

// ---- integer and list parameters ----

TEST(RestIntParam, AcceptsIntegersInRange) {
  EXPECT_EQ(*parse_int_param("n", "5", 1, 10), 5);
  EXPECT_EQ(*parse_int_param("n", "0", 0, 10), 0);
  EXPECT_EQ(*parse_int_param("n", "-3", -5, 10), -3);
  EXPECT_EQ(*parse_int_param("n", "9223372036854775807", 0,
                             std::numeric_limits<std::int64_t>::max()),
            std::numeric_limits<std::int64_t>::max());
}

TEST(RestIntParam, RefusesAnythingElse) {
  for (std::string_view bad : {"", "abc", "1.5", "1e3", "+5", " 5", "5 ", "0x10", "-", "11", "0",
                               "99999999999999999999"}) {
    auto r = parse_int_param("n", bad, 1, 10);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().http_status, 400);
    EXPECT_EQ(field_of(r.error()), "n") << bad;
  }
}

TEST(RestListParam, SplitsCommasTrimsAndDeduplicates) {
  auto q = parse_query("status=active,%20resolved,,active&status=acknowledged");
  ASSERT_TRUE(q);
  auto r = parse_list_param(*q, "status");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (std::vector<std::string>{"active", "resolved", "acknowledged"}));
  auto none = parse_list_param(*q, "severity");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(RestListParam, EnumValuesInTheOrderGiven) {
  auto q = parse_query("status=resolved,%20active,,resolved&status=acknowledged");
  ASSERT_TRUE(q);
  auto r = parse_enum_list_param<model::AlertStatus>(*q, "status");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (std::vector<model::AlertStatus>{model::AlertStatus::resolved,
                                                 model::AlertStatus::active,
                                                 model::AlertStatus::acknowledged}));
  auto none = parse_enum_list_param<model::Severity>(*q, "severity");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(RestListParam, UnknownValueNamesTheParameter) {
  auto q = parse_query("severity=warning,fatal");
  ASSERT_TRUE(q);
  auto r = parse_enum_list_param<model::Severity>(*q, "severity");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().http_status, 400);
  EXPECT_EQ(field_of(r.error()), "severity");
  EXPECT_EQ(r.error().message, "severity must be one of info, warning, critical (got 'fatal')");
  auto t = parse_query("alert_type=Threshold");
  ASSERT_TRUE(t);
  EXPECT_EQ(parse_enum_list_param<model::AlertType>(*t, "alert_type").error().message,
            "alert_type must be one of threshold, anomaly, device, system, manual (got "
            "'Threshold')");
  // Plain lists take anything.
  auto free = parse_list_param(*q, "severity");
  ASSERT_TRUE(free);
  EXPECT_EQ(free->size(), 2u);
}

TEST(RestIdListParam, PositiveIntegers) {
  auto q = parse_query("device_id=3,1,3&device_id=7");
  ASSERT_TRUE(q);
  auto r = parse_id_list_param(*q, "device_id");
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (std::vector<std::int64_t>{3, 1, 7}));
  for (std::string_view bad : {"device_id=0", "device_id=-1", "device_id=a", "device_id=1,x"}) {
    auto b = parse_query(bad);
    ASSERT_TRUE(b);
    auto e = parse_id_list_param(*b, "device_id");
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(field_of(e.error()), "device_id");
  }
}

// ---- pagination ----

TEST(RestPagination, Defaults) {
  auto q = parse_query("");
  auto p = parse_pagination(*q);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->page, 1u);
  EXPECT_EQ(p->size, 20u);
  EXPECT_EQ(p->offset(), 0u);
}

TEST(RestPagination, ExplicitValues) {
  auto q = parse_query("page=3&size=100");
  auto p = parse_pagination(*q);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->page, 3u);
  EXPECT_EQ(p->size, 100u);
  EXPECT_EQ(p->offset(), 200u);
}

TEST(RestPagination, InvalidValuesNameTheParameter) {
  for (auto [query, field] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"page=0", "page"},
           {"page=-1", "page"},
           {"page=abc", "page"},
           {"page=", "page"},
           {"page=1.5", "page"},
           {"page=1000000001", "page"},
           {"size=0", "size"},
           {"size=101", "size"},
           {"size=x", "size"},
           {"page=2&size=", "size"}}) {
    auto q = parse_query(query);
    ASSERT_TRUE(q);
    auto p = parse_pagination(*q);
    ASSERT_FALSE(p) << query;
    EXPECT_EQ(p.error().http_status, 400);
    EXPECT_EQ(p.error().code, "VALIDATION_ERROR");
    EXPECT_EQ(field_of(p.error()), field) << query;
  }
}

TEST(RestPagination, PageInfoArithmetic) {
  auto i = page_info({1, 20}, 0);
  EXPECT_EQ(i.pages, 0u);
  EXPECT_FALSE(i.has_next);
  EXPECT_FALSE(i.has_prev);

  i = page_info({1, 20}, 20);
  EXPECT_EQ(i.pages, 1u);
  EXPECT_FALSE(i.has_next);

  i = page_info({1, 20}, 21);
  EXPECT_EQ(i.pages, 2u);
  EXPECT_TRUE(i.has_next);
  EXPECT_FALSE(i.has_prev);

  i = page_info({2, 20}, 21);
  EXPECT_FALSE(i.has_next);
  EXPECT_TRUE(i.has_prev);

  i = page_info({5, 10}, 21);  // beyond the last page
  EXPECT_EQ(i.pages, 3u);
  EXPECT_FALSE(i.has_next);
  EXPECT_TRUE(i.has_prev);
}

TEST(RestPagination, PageInfoJson) {
  auto o = to_json(page_info({2, 10}, 35));
  EXPECT_EQ(o, json::parse(R"({"page":2,"size":10,"total":35,"pages":4,"has_next":true,)"
                           R"("has_prev":true})"));
}

// ---- path ids ----

TEST(RestPathId, PositiveIntegers) {
  EXPECT_EQ(*parse_path_id("1", "device"), 1);
  EXPECT_EQ(*parse_path_id("9223372036854775807", "device"),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(*parse_path_id("007", "device"), 7);
}

TEST(RestPathId, NotANumberIs400NamingTheField) {
  for (std::string_view bad : {"abc", "", "-1", "+1", "1.0", "1e3", "%31", " 1"}) {
    auto r = parse_path_id(bad, "device");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().http_status, 400) << bad;
    EXPECT_EQ(r.error().code, "VALIDATION_ERROR");
    EXPECT_EQ(field_of(r.error()), "id");
  }
}

TEST(RestPathId, ImpossibleIdIs404) {
  for (std::string_view none : {"0", "00", "9223372036854775808", "123456789012345678901234"}) {
    auto r = parse_path_id(none, "alert");
    ASSERT_FALSE(r) << none;
    EXPECT_EQ(r.error().http_status, 404) << none;
    EXPECT_EQ(r.error().code, "NOT_FOUND");
    EXPECT_NE(r.error().message.find("alert"), std::string::npos);
    EXPECT_EQ(r.error().details.at("resource"), "alert");
  }
  EXPECT_EQ(parse_path_id("0", "device").error().details.at("id"), 0);
}

// ---- roles ----

TEST(RestAuthorize, RoleMatrix) {
  using auth::Role;
  auto allowed = [](Role role, Access a) {
    auth::Claims c;
    c.role = role;
    return static_cast<bool>(authorize(c, a));
  };
  EXPECT_TRUE(allowed(Role::admin, Access::read));
  EXPECT_TRUE(allowed(Role::operator_, Access::read));
  EXPECT_TRUE(allowed(Role::analyst, Access::read));
  EXPECT_TRUE(allowed(Role::user, Access::read));
  EXPECT_FALSE(allowed(Role::device, Access::read));

  EXPECT_TRUE(allowed(Role::admin, Access::write));
  EXPECT_TRUE(allowed(Role::operator_, Access::write));
  EXPECT_FALSE(allowed(Role::analyst, Access::write));
  EXPECT_FALSE(allowed(Role::user, Access::write));
  EXPECT_FALSE(allowed(Role::device, Access::write));

  EXPECT_TRUE(allowed(Role::admin, Access::respond));
  EXPECT_TRUE(allowed(Role::operator_, Access::respond));
  EXPECT_TRUE(allowed(Role::analyst, Access::respond));
  EXPECT_FALSE(allowed(Role::user, Access::respond));
  EXPECT_FALSE(allowed(Role::device, Access::respond));

  auth::Claims d;
  d.role = Role::device;
  auto e = authorize(d, Access::read);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().http_status, 403);
  EXPECT_EQ(e.error().code, "FORBIDDEN");
}

// ---- bodies and envelopes ----

HttpRequest request_with_body(std::string body) {
  HttpRequest req{boost::beast::http::verb::post, "/api/v1/devices", 11};
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

TEST(RestBody, ObjectRequired) {
  EXPECT_TRUE(parse_body(request_with_body(R"({"name":"x"})")));
  for (std::string bad : {"", "  \r\n", "[1]", "42", "{", "nul", R"({"a":1} x)"}) {
    auto r = parse_body(request_with_body(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().http_status, 400);
    EXPECT_EQ(field_of(r.error()), "body") << bad;
  }
}

TEST(RestBody, OptionalEmptyBodyIsAnEmptyObject) {
  auto r = parse_body(request_with_body(""), true);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  EXPECT_FALSE(parse_body(request_with_body("[]"), true));
}

TEST(RestEnvelope, ErrorBody) {
  auto body = json::parse(error_body(invalid("size", "size must be an integer between 1 and 100")));
  EXPECT_EQ(body, json::parse(R"({"success":false,"error":{"code":"VALIDATION_ERROR",)"
                              R"("message":"size must be an integer between 1 and 100",)"
                              R"("details":{"field":"size"}}})"));
}

TEST(RestEnvelope, PageResponse) {
  auto res = page_response({11, true}, json::array{json::object{{"id", 1}}, 2.5},
                           page_info({1, 2}, 3));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json");
  EXPECT_TRUE(res.keep_alive());
  EXPECT_EQ(res.body(), R"({"success":true,"data":[{"id":1},2.5],"pagination":{"page":1,)"
                        R"("size":2,"total":3,"pages":2,"has_next":true,"has_prev":false}})");
}

TEST(RestEnvelope, MethodNotAllowedCarriesAllow) {
  auto res = method_not_allowed({11, false}, "/api/v1/alerts", "GET");
  EXPECT_EQ(res.result_int(), 405u);
  EXPECT_EQ(res[boost::beast::http::field::allow], "GET");
  EXPECT_FALSE(res.keep_alive());
  auto body = json::parse(res.body());
  EXPECT_EQ(body.at("error").at("code"), "METHOD_NOT_ALLOWED");
}

}  // namespace
}  // namespace valtronics::net::rest
