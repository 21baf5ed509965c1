// Tests of request parameters (api/query): percent-decoding and query strings, list, enum and
// integer parameters, pagination parameters and arithmetic, and path ids.
#include "api/query.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>

#include "api/api_test_support.hpp"

namespace valtronics::api {
namespace {

namespace json = boost::json;
using test::code_of;
using test::field_of;
using test::status_of;

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
  EXPECT_EQ(status_of(q.error()), 400);
  EXPECT_EQ(code_of(q.error()), "VALIDATION_ERROR");
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
    EXPECT_EQ(status_of(r.error()), 400);
    EXPECT_EQ(field_of(r.error()), "n") << bad;
  }
}

TEST(RestListParam, SplitsCommasTrimsAndDeduplicates) {
  auto q = parse_query("status=active,%20resolved,,active&status=acknowledged");
  ASSERT_TRUE(q);
  auto r = parse_list_param(*q, "status");
  EXPECT_EQ(r, (std::vector<std::string>{"active", "resolved", "acknowledged"}));
  EXPECT_TRUE(parse_list_param(*q, "severity").empty());
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
  EXPECT_EQ(status_of(r.error()), 400);
  EXPECT_EQ(field_of(r.error()), "severity");
  EXPECT_EQ(r.error().message, "severity must be one of info, warning, critical (got 'fatal')");
  auto t = parse_query("alert_type=Threshold");
  ASSERT_TRUE(t);
  EXPECT_EQ(parse_enum_list_param<model::AlertType>(*t, "alert_type").error().message,
            "alert_type must be one of threshold, anomaly, device, system, manual (got "
            "'Threshold')");
  // Plain lists take anything.
  EXPECT_EQ(parse_list_param(*q, "severity").size(), 2u);
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
    EXPECT_EQ(status_of(p.error()), 400);
    EXPECT_EQ(code_of(p.error()), "VALIDATION_ERROR");
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
    EXPECT_EQ(status_of(r.error()), 400) << bad;
    EXPECT_EQ(code_of(r.error()), "VALIDATION_ERROR");
    EXPECT_EQ(field_of(r.error()), "id");
  }
}

TEST(RestPathId, ImpossibleIdIs404) {
  for (std::string_view none : {"0", "00", "9223372036854775808", "123456789012345678901234"}) {
    auto r = parse_path_id(none, "alert");
    ASSERT_FALSE(r) << none;
    EXPECT_EQ(status_of(r.error()), 404) << none;
    EXPECT_EQ(code_of(r.error()), "NOT_FOUND");
    EXPECT_NE(r.error().message.find("alert"), std::string::npos);
    EXPECT_EQ(r.error().details.at("resource"), "alert");
  }
  EXPECT_EQ(parse_path_id("0", "device").error().details.at("id"), 0);
}

TEST(RestPathId, ImpossibleIdIsEchoedAsSent) {
  auto zeros = parse_path_id("00", "device");
  ASSERT_FALSE(zeros);
  EXPECT_EQ(zeros.error().message, "device 00 not found");
  EXPECT_EQ(zeros.error().details.at("id"), 0);
  auto huge = parse_path_id("99999999999999999999", "alert rule");
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().message, "alert rule 99999999999999999999 not found");
  EXPECT_EQ(huge.error().details.at("id"), "99999999999999999999");
  EXPECT_EQ(huge.error().details.at("resource"), "alert rule");
}

// ---- single enum parameters ----

TEST(RestEnumParam, AbsentGivenAndInvalid) {
  auto q = parse_query("status=online&status=error&device_type=robot");
  ASSERT_TRUE(q);
  auto absent = parse_enum_param<model::DeviceStatus>(*q, "missing");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());
  auto last = parse_enum_param<model::DeviceStatus>(*q, "status");
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, model::DeviceStatus::error);  // the last value counts
  auto bad = parse_enum_param<model::DeviceType>(*q, "device_type");
  ASSERT_FALSE(bad);
  EXPECT_EQ(field_of(bad.error()), "device_type");
  EXPECT_EQ(bad.error().message,
            "device_type must be one of sensor, actuator, gateway, controller, monitor");
}

}  // namespace
}  // namespace valtronics::api
