// Tests of the Telemetry API body parser (api/ingest_body): both item forms, batches as object or
// bare array, every validation error with the index and field it must name, merging per device,
// and that hostile input yields an error rather than an exception.
#include "api/ingest_body.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "api/api_test_support.hpp"
#include "protocol/json_writer.hpp"

namespace valtronics::api {
namespace {

using namespace std::chrono_literals;
using test::code_of;
using test::field_of;
using test::status_of;
using IngestError = model::DomainError;

const util::TimePoint kNow = util::TimePoint{} + 1'704'110'400s;  // 2024-01-01T12:00:00Z

IngestError single_error(std::string_view body) {
  auto r = parse_single(body, kNow);
  EXPECT_FALSE(r.has_value()) << body;
  return r ? IngestError{} : r.error();
}

IngestError batch_error(std::string_view body, std::size_t max_items = 1000) {
  auto r = parse_batch(body, max_items, kNow);
  EXPECT_FALSE(r.has_value()) << body;
  return r ? IngestError{} : r.error();
}

std::int64_t index_of(const IngestError& e) {
  auto* i = e.details.if_contains("index");
  return i ? i->to_number<std::int64_t>() : -1;
}

// --- accepted forms ---------------------------------------------------------------------------

TEST(IngestSingle, FlatFormWithAllFields) {
  auto r = parse_single(
      R"({"device_id":1,"metric_name":"temperature","metric_value":23.5,"unit":"°C",
          "timestamp":"2024-01-01T11:59:00Z","metadata":{"source":"test"}})",
      kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  const auto& ev = (*r)[0];
  EXPECT_EQ(ev.device_id, 1);
  ASSERT_EQ(ev.readings.size(), 1u);
  EXPECT_EQ(ev.readings[0].name, "temperature");
  EXPECT_DOUBLE_EQ(ev.readings[0].value, 23.5);
  EXPECT_EQ(ev.readings[0].unit, "°C");
  EXPECT_EQ(ev.readings[0].timestamp, kNow - 60s);
}

TEST(IngestSingle, TimestampDefaultsToNowAndUnitToEmpty) {
  auto r = parse_single(R"({"device_id":7,"metric_name":"co2","metric_value":400})", kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].readings[0].timestamp, kNow);
  EXPECT_EQ((*r)[0].readings[0].unit, "");
  EXPECT_DOUBLE_EQ((*r)[0].readings[0].value, 400.0);
}

TEST(IngestSingle, NullOptionalFieldsCountAsAbsent) {
  auto r = parse_single(
      R"({"device_id":1,"metric_name":"t","metric_value":-1.5,"unit":null,"timestamp":null,
          "metadata":null})",
      kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ((*r)[0].readings[0].timestamp, kNow);
}

TEST(IngestSingle, NullTelemetryKeyMeansFlatForm) {
  auto r = parse_single(
      R"({"device_id":1,"metric_name":"t","metric_value":2,"telemetry":null})", kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ((*r)[0].readings[0].name, "t");
}

TEST(IngestSingle, UnknownKeysAreIgnored) {
  auto r = parse_single(
      R"({"device_id":1,"metric_name":"t","metric_value":1,"quality":"good","extra":[1,2]})",
      kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
}

TEST(IngestSingle, NestedFormMergesIntoOneEvent) {
  auto r = parse_single(
      R"({"device_id":3,"telemetry":{
            "temperature":{"value":23.5,"unit":"°C","timestamp":"2024-01-01T12:00:00Z"},
            "humidity":{"value":45,"unit":"%"}}})",
      kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  const auto& ev = (*r)[0];
  EXPECT_EQ(ev.device_id, 3);
  ASSERT_EQ(ev.readings.size(), 2u);
  EXPECT_EQ(ev.readings[0].name, "temperature");
  EXPECT_EQ(ev.readings[1].name, "humidity");
  EXPECT_EQ(ev.readings[1].unit, "%");
  EXPECT_EQ(ev.readings[1].timestamp, kNow);
}

TEST(IngestSingle, NestedFormItemTimestampIsTheDefault) {
  auto r = parse_single(
      R"({"device_id":3,"timestamp":"2024-01-01T10:00:00Z",
          "telemetry":{"a":{"value":1},"b":{"value":2,"timestamp":"2024-01-01T11:00:00Z"}}})",
      kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ((*r)[0].readings[0].timestamp, kNow - 2h);
  EXPECT_EQ((*r)[0].readings[1].timestamp, kNow - 1h);
}

TEST(IngestSingle, MetricNameCharsetAndLength) {
  EXPECT_TRUE(parse_single(R"({"device_id":1,"metric_name":"a.b-c_9","metric_value":1})", kNow));
  std::string name64(64, 'x');
  EXPECT_TRUE(parse_single(
      R"({"device_id":1,"metric_name":")" + name64 + R"(","metric_value":1})", kNow));
}

TEST(IngestSingle, LargeIntegersAndExponentsAreNumbers) {
  auto r = parse_single(
      R"({"device_id":9223372036854775807,"metric_name":"x","metric_value":1e300})", kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ((*r)[0].device_id, INT64_MAX);
  EXPECT_TRUE(parse_single(
      R"({"device_id":1,"metric_name":"x","metric_value":18446744073709551615})", kNow));
}

TEST(IngestBatch, ObjectFormAndBareArrayAreEquivalent) {
  const char* items =
      R"([{"device_id":1,"metric_name":"temperature","metric_value":20},
          {"device_id":2,"telemetry":{"humidity":{"value":50,"unit":"%"}}}])";
  auto a = parse_batch(std::string(R"({"telemetry_data":)") + items + "}", 1000, kNow);
  auto b = parse_batch(items, 1000, kNow);
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_TRUE(b.has_value()) << b.error().message;
  ASSERT_EQ(a->size(), 2u);
  ASSERT_EQ(b->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*a)[i].device_id, (*b)[i].device_id);
    EXPECT_EQ((*a)[i].readings[0].name, (*b)[i].readings[0].name);
  }
}

TEST(IngestBatch, MergesPerDeviceInOrderOfFirstAppearance) {
  auto r = parse_batch(
      R"([{"device_id":2,"metric_name":"a","metric_value":1},
          {"device_id":1,"metric_name":"b","metric_value":2},
          {"device_id":2,"telemetry":{"c":{"value":3},"d":{"value":4}}},
          {"device_id":1,"metric_name":"e","metric_value":5}])",
      1000, kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].device_id, 2);
  ASSERT_EQ((*r)[0].readings.size(), 3u);
  EXPECT_EQ((*r)[0].readings[0].name, "a");
  EXPECT_EQ((*r)[0].readings[1].name, "c");
  EXPECT_EQ((*r)[0].readings[2].name, "d");
  EXPECT_EQ((*r)[1].device_id, 1);
  ASSERT_EQ((*r)[1].readings.size(), 2u);
  EXPECT_EQ((*r)[1].readings[0].name, "b");
  EXPECT_EQ((*r)[1].readings[1].name, "e");
}

TEST(IngestBatch, RepeatedMetricOfADeviceStartsAnotherEventAndLosesNothing) {
  auto r = parse_batch(
      R"([{"device_id":1,"metric_name":"t","metric_value":1,"timestamp":"2024-01-01T10:00:00Z"},
          {"device_id":1,"metric_name":"t","metric_value":2,"timestamp":"2024-01-01T11:00:00Z"}])",
      1000, kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_DOUBLE_EQ((*r)[0].readings[0].value, 1);
  EXPECT_DOUBLE_EQ((*r)[1].readings[0].value, 2);
}

TEST(IngestBatch, ExactlyMaxItemsIsAccepted) {
  std::string body = "[";
  for (int i = 0; i < 10; ++i) {
    if (i) body += ',';
    body += R"({"device_id":)" + std::to_string(i + 1) + R"(,"metric_name":"m","metric_value":1})";
  }
  body += "]";
  auto r = parse_batch(body, 10, kNow);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->size(), 10u);
}

// --- invalid items ----------------------------------------------------------------------------

struct BadItem {
  const char* name;
  const char* item;
  const char* field;
};

class IngestInvalidItem : public ::testing::TestWithParam<BadItem> {};

TEST_P(IngestInvalidItem, SingleNamesTheField) {
  const auto& p = GetParam();
  auto e = single_error(p.item);
  EXPECT_EQ(status_of(e), 400);
  EXPECT_EQ(code_of(e), "VALIDATION_ERROR");
  EXPECT_EQ(e.field, p.field) << e.message;
  EXPECT_EQ(field_of(e), p.field) << e.message;
  EXPECT_NE(e.message.find(p.field), std::string::npos) << e.message;
}

TEST_P(IngestInvalidItem, BatchNamesTheIndexAndFieldAndAppliesNothing) {
  const auto& p = GetParam();
  std::string body = R"({"telemetry_data":[)";
  for (int i = 0; i < 3; ++i) body += R"({"device_id":1,"metric_name":"ok","metric_value":1},)";
  body += p.item;
  body += R"(,{"device_id":2,"metric_name":"ok","metric_value":1}]})";
  auto e = batch_error(body);
  EXPECT_EQ(code_of(e), "VALIDATION_ERROR");
  EXPECT_EQ(index_of(e), 3) << e.message;
  EXPECT_EQ(field_of(e), p.field) << e.message;
  EXPECT_EQ(e.message.rfind("item 3: ", 0), 0u) << e.message;
}

INSTANTIATE_TEST_SUITE_P(
    AllCases, IngestInvalidItem,
    ::testing::Values(
        BadItem{"DeviceIdZero", R"({"device_id":0,"metric_name":"t","metric_value":1})",
                "device_id"},
        BadItem{"DeviceIdNegative", R"({"device_id":-1,"metric_name":"t","metric_value":1})",
                "device_id"},
        BadItem{"DeviceIdFraction", R"({"device_id":1.5,"metric_name":"t","metric_value":1})",
                "device_id"},
        BadItem{"DeviceIdString", R"({"device_id":"1","metric_name":"t","metric_value":1})",
                "device_id"},
        BadItem{"DeviceIdTooBig",
                R"({"device_id":9223372036854775808,"metric_name":"t","metric_value":1})",
                "device_id"},
        BadItem{"DeviceIdNull", R"({"device_id":null,"metric_name":"t","metric_value":1})",
                "device_id"},
        BadItem{"DeviceIdMissing", R"({"metric_name":"t","metric_value":1})", "device_id"},
        BadItem{"MetricNameUpper", R"({"device_id":1,"metric_name":"Temp","metric_value":1})",
                "metric_name"},
        BadItem{"MetricNameSpace", R"({"device_id":1,"metric_name":"a b","metric_value":1})",
                "metric_name"},
        BadItem{"MetricNameSlash", R"({"device_id":1,"metric_name":"a/b","metric_value":1})",
                "metric_name"},
        BadItem{"MetricNameUnicode", R"({"device_id":1,"metric_name":"temp°","metric_value":1})",
                "metric_name"},
        BadItem{"MetricNameEmpty", R"({"device_id":1,"metric_name":"","metric_value":1})",
                "metric_name"},
        BadItem{"MetricNameTooLong",
                R"({"device_id":1,"metric_name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","metric_value":1})",
                "metric_name"},
        BadItem{"MetricNameNumber", R"({"device_id":1,"metric_name":5,"metric_value":1})",
                "metric_name"},
        BadItem{"MetricNameMissing", R"({"device_id":1,"metric_value":1})", "metric_name"},
        BadItem{"ValueString", R"({"device_id":1,"metric_name":"t","metric_value":"23.5"})",
                "metric_value"},
        BadItem{"ValueNaNString", R"({"device_id":1,"metric_name":"t","metric_value":"NaN"})",
                "metric_value"},
        BadItem{"ValueNull", R"({"device_id":1,"metric_name":"t","metric_value":null})",
                "metric_value"},
        BadItem{"ValueBool", R"({"device_id":1,"metric_name":"t","metric_value":true})",
                "metric_value"},
        BadItem{"ValueOverflowsToInfinity",
                R"({"device_id":1,"metric_name":"t","metric_value":1e999})", "metric_value"},
        BadItem{"ValueObject", R"({"device_id":1,"metric_name":"t","metric_value":{}})",
                "metric_value"},
        BadItem{"ValueMissing", R"({"device_id":1,"metric_name":"t"})", "metric_value"},
        BadItem{"TimestampGarbage",
                R"({"device_id":1,"metric_name":"t","metric_value":1,"timestamp":"yesterday"})",
                "timestamp"},
        BadItem{"TimestampBadDate",
                R"({"device_id":1,"metric_name":"t","metric_value":1,"timestamp":"2024-13-45T99:00:00Z"})",
                "timestamp"},
        BadItem{"TimestampNumber",
                R"({"device_id":1,"metric_name":"t","metric_value":1,"timestamp":1704110400})",
                "timestamp"},
        BadItem{"UnitNumber", R"({"device_id":1,"metric_name":"t","metric_value":1,"unit":5})",
                "unit"},
        BadItem{"UnitObject", R"({"device_id":1,"metric_name":"t","metric_value":1,"unit":{}})",
                "unit"},
        BadItem{"MetadataString",
                R"({"device_id":1,"metric_name":"t","metric_value":1,"metadata":"x"})",
                "metadata"},
        BadItem{"MetadataArray",
                R"({"device_id":1,"metric_name":"t","metric_value":1,"metadata":[]})",
                "metadata"},
        BadItem{"TelemetryNotObject", R"({"device_id":1,"telemetry":[1]})", "telemetry"},
        BadItem{"TelemetryEmpty", R"({"device_id":1,"telemetry":{}})", "telemetry"},
        BadItem{"TelemetryBadName", R"({"device_id":1,"telemetry":{"Bad Name":{"value":1}}})",
                "telemetry"},
        BadItem{"TelemetryEntryNotObject", R"({"device_id":1,"telemetry":{"t":23.5}})",
                "telemetry.t"},
        BadItem{"TelemetryValueMissing", R"({"device_id":1,"telemetry":{"t":{"unit":"%"}}})",
                "telemetry.t.value"},
        BadItem{"TelemetryValueString", R"({"device_id":1,"telemetry":{"t":{"value":"1"}}})",
                "telemetry.t.value"},
        BadItem{"TelemetryUnitNumber",
                R"({"device_id":1,"telemetry":{"t":{"value":1,"unit":1}}})", "telemetry.t.unit"},
        BadItem{"TelemetryTimestampBad",
                R"({"device_id":1,"telemetry":{"t":{"value":1,"timestamp":"soon"}}})",
                "telemetry.t.timestamp"},
        BadItem{"TelemetryMetadataBad",
                R"({"device_id":1,"telemetry":{"t":{"value":1,"metadata":1}}})",
                "telemetry.t.metadata"},
        BadItem{"NestedItemTimestampBad",
                R"({"device_id":1,"timestamp":"x","telemetry":{"t":{"value":1}}})", "timestamp"},
        BadItem{"BothForms",
                R"({"device_id":1,"metric_name":"t","metric_value":1,"telemetry":{"u":{"value":1}}})",
                "telemetry"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(IngestErrors, MessageIsHumanReadable) {
  auto e = batch_error(
      R"([{"device_id":1,"metric_name":"t","metric_value":1},
          {"device_id":1,"metric_name":"t","metric_value":1},
          {"device_id":1,"metric_name":"t","metric_value":1},
          {"device_id":1,"metric_name":"t","metric_value":"hot"}])");
  EXPECT_EQ(e.message, "item 3: metric_value must be a finite number");
  EXPECT_EQ(e.details, boost::json::parse(R"({"index":3,"field":"metric_value"})"));
}

TEST(IngestErrors, SingleErrorHasNoIndex) {
  auto e = single_error(R"({"device_id":0,"metric_name":"t","metric_value":1})");
  EXPECT_EQ(e.message, "device_id must be a positive integer");
  EXPECT_EQ(e.details.if_contains("index"), nullptr);
}

TEST(IngestErrors, BatchItemNotAnObject) {
  auto e = batch_error(R"([{"device_id":1,"metric_name":"t","metric_value":1}, 5])");
  EXPECT_EQ(index_of(e), 1);
  EXPECT_NE(e.message.find("item 1"), std::string::npos);
}

TEST(IngestErrors, OverMaxItems) {
  auto e = batch_error(R"([{"device_id":1,"metric_name":"t","metric_value":1},
                          {"device_id":1,"metric_name":"u","metric_value":1},
                          {"device_id":1,"metric_name":"v","metric_value":1}])",
                       2);
  EXPECT_EQ(code_of(e), "VALIDATION_ERROR");
  EXPECT_EQ(field_of(e), "telemetry_data");
  EXPECT_EQ(e.details.at("max_items").to_number<int>(), 2);
  EXPECT_EQ(e.details.at("count").to_number<int>(), 3);
}

TEST(IngestErrors, EmptyBatch) {
  EXPECT_EQ(field_of(batch_error("[]")), "telemetry_data");
  EXPECT_EQ(field_of(batch_error(R"({"telemetry_data":[]})")), "telemetry_data");
}

TEST(IngestErrors, BatchShape) {
  EXPECT_EQ(field_of(batch_error(R"({"items":[]})")), "telemetry_data");
  EXPECT_EQ(field_of(batch_error(R"({"telemetry_data":{}})")), "telemetry_data");
  EXPECT_EQ(field_of(batch_error(R"({"telemetry_data":null})")), "telemetry_data");
  EXPECT_EQ(field_of(batch_error("42")), "body");
  EXPECT_EQ(field_of(batch_error(R"("text")")), "body");
}

TEST(IngestErrors, NotJson) {
  for (const char* body : {"", "not json", "{", R"({"device_id":1,})", "[1,2", "{}{}", "NaN",
                           "\xff\xfe{}"}) {
    auto s = single_error(body);
    EXPECT_EQ(code_of(s), "VALIDATION_ERROR") << body;
    EXPECT_EQ(field_of(s), "body") << body;
    auto b = batch_error(body);
    EXPECT_EQ(field_of(b), "body") << body;
  }
}

TEST(IngestErrors, SingleBodyNotAnObject) {
  for (const char* body : {"[]", R"([{"device_id":1,"metric_name":"t","metric_value":1}])", "1",
                           "null", R"("x")", "true"}) {
    auto e = single_error(body);
    EXPECT_EQ(code_of(e), "VALIDATION_ERROR") << body;
    EXPECT_EQ(field_of(e), "body") << body;
  }
}

TEST(IngestErrors, DeepNestingIsRefusedWithoutCrashing) {
  std::string deep = R"({"device_id":1,"metric_name":"t","metric_value":1,"metadata":)";
  for (int i = 0; i < 100000; ++i) deep += '[';
  auto e = single_error(deep);
  EXPECT_EQ(field_of(e), "body");
  EXPECT_NE(e.message.find("nested"), std::string::npos) << e.message;

  std::string arrays(200000, '[');
  EXPECT_FALSE(parse_batch(arrays, 1000, kNow).has_value());
}

TEST(IngestErrors, ModerateMetadataNestingIsFine) {
  std::string body = R"({"device_id":1,"metric_name":"t","metric_value":1,"metadata":)";
  for (int i = 0; i < 5; ++i) body += R"({"a":)";
  body += "1";
  for (int i = 0; i < 5; ++i) body += "}";
  body += "}";
  EXPECT_TRUE(parse_single(body, kNow).has_value());
}

TEST(IngestErrors, LongBadMetricNameIsTruncatedInTheMessage) {
  std::string name(10000, 'X');
  auto e = single_error(R"({"device_id":1,"metric_name":")" + name + R"(","metric_value":1})");
  EXPECT_LT(e.message.size(), 300u);
  EXPECT_EQ(e.message, "metric_name must match [a-z0-9_.-]{1,64}, got \"" + std::string(80, 'X') +
                           "...\"");
}

// True when `s` is well-formed UTF-8 (no stray or missing continuation bytes).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3
                                         : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

// Found by fuzzing: the name was cut at 80 bytes inside a character, so the reply was not UTF-8.
TEST(IngestErrors, EchoedNameIsCutOnACharacterBoundary) {
  const std::string name = std::string(79, 'a') + "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";  // é x5
  auto e = single_error(R"({"device_id":1,"metric_name":")" + name + R"(","metric_value":1})");
  EXPECT_TRUE(valid_utf8(e.message)) << e.message;
  // 79 bytes fit; the first é would end at byte 81: it is left out whole.
  EXPECT_EQ(e.message,
            "metric_name must match [a-z0-9_.-]{1,64}, got \"" + std::string(79, 'a') + "...\"");
  // The same in a nested item's metric name, and through the envelope.
  auto n = single_error(R"({"device_id":1,"telemetry":{")" + std::string(78, 'b') +
                        "\xE2\x82\xAC\xE2\x82\xAC" + R"(":{"value":1}}})");  // € x2
  EXPECT_TRUE(valid_utf8(n.message)) << n.message;
  EXPECT_NE(n.message.find(std::string(78, 'b') + "...\""), std::string::npos) << n.message;
  EXPECT_TRUE(valid_utf8(protocol::to_json(error_response(n).body)));
  // A cut that falls on a boundary keeps all 80 bytes.
  auto two = single_error(R"({"device_id":1,"metric_name":")" + std::string(78, 'c') +
                          "\xC3\xA9\xC3\xA9" + R"(","metric_value":1})");
  EXPECT_NE(two.message.find(std::string(78, 'c') + "\xC3\xA9...\""), std::string::npos)
      << two.message;
}

TEST(IngestErrors, NeverThrowsOnMutatedBodies) {
  // Every prefix and every single-byte corruption of a valid body: parse or error, never throw.
  const std::string good =
      R"({"telemetry_data":[{"device_id":1,"metric_name":"t","metric_value":1.5,"unit":"°C",)"
      R"("timestamp":"2024-01-01T12:00:00Z","metadata":{"a":[1,2]}},)"
      R"({"device_id":2,"telemetry":{"h":{"value":3,"unit":"%"}}}]})";
  const char replacements[] = {'"', '{', '}', '[', ']', ',', ':', '0', '-', 'e', '\\', '\0'};
  for (std::size_t i = 0; i <= good.size(); ++i) {
    EXPECT_NO_THROW((void)parse_batch(std::string_view(good).substr(0, i), 1000, kNow));
    EXPECT_NO_THROW((void)parse_single(std::string_view(good).substr(0, i), kNow));
    if (i == good.size()) break;
    for (char c : replacements) {
      std::string bad = good;
      bad[i] = c;
      EXPECT_NO_THROW((void)parse_batch(bad, 1000, kNow));
    }
  }
}

// --- envelopes --------------------------------------------------------------------------------

TEST(IngestEnvelope, ErrorJson) {
  auto e = single_error(R"({"device_id":1,"metric_name":"t","metric_value":"x"})");
  auto res = error_response(e);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(protocol::to_json(res.body),
            R"({"success":false,"error":{"code":"VALIDATION_ERROR",)"
            R"("message":"metric_value must be a finite number",)"
            R"("details":{"field":"metric_value"}}})");
}

TEST(IngestEnvelope, BatchErrorDetailsKeepIndexThenField) {
  auto e = batch_error(R"([{"device_id":1,"metric_name":"t","metric_value":1},{"device_id":0}])");
  EXPECT_EQ(protocol::to_json(error_response(e).body),
            R"({"success":false,"error":{"code":"VALIDATION_ERROR",)"
            R"("message":"item 1: device_id must be a positive integer",)"
            R"("details":{"index":1,"field":"device_id"}}})");
}

TEST(IngestEnvelope, PayloadTooLarge) {
  auto res = payload_too_large(1048576);
  EXPECT_EQ(res.status, 413);
  const auto& v = res.body;
  EXPECT_NE(std::string(v.at("error").at("message").as_string()).find("1048576"),
            std::string::npos);
  EXPECT_EQ(v.at("success"), false);
  EXPECT_EQ(v.at("error").at("code"), "PAYLOAD_TOO_LARGE");
  EXPECT_EQ(v.at("error").at("details").at("max_body_bytes").to_number<std::int64_t>(), 1048576);
}

TEST(IngestEnvelope, ValueThrowsOnError) {
  auto r = parse_single("nope", kNow);
  EXPECT_THROW((void)r.value(), std::exception);
}

}  // namespace
// --- abuse bounds (issue 10) -------------------------------------------------------------------

TEST(IngestAbuse, UnitIsAtMost20Characters) {
  EXPECT_TRUE(parse_single(R"({"device_id":1,"metric_name":"t","metric_value":1,"unit":"12345678901234567890"})", kNow));
  EXPECT_TRUE(parse_single(R"({"device_id":1,"metric_name":"t","metric_value":1,"unit":"°°°°°°°°°°°°°°°°°°°°"})", kNow));
  auto e = single_error(R"({"device_id":1,"metric_name":"t","metric_value":1,"unit":"123456789012345678901"})");
  EXPECT_EQ(e.field, "unit");
  auto n = single_error(std::string(R"({"device_id":1,"telemetry":{"t":{"value":1,"unit":")") +
                        std::string(1'000'000, 'u') + R"("}}})");
  EXPECT_EQ(n.field, "telemetry.t.unit");
}

TEST(IngestAbuse, MaxItemsCountsReadings) {
  // 2 items of 3 metrics each: 6 readings, over a limit of 5 although only 2 items.
  const std::string body = R"([{"device_id":1,"telemetry":{"a":{"value":1},"b":{"value":2},"c":{"value":3}}},
                               {"device_id":2,"telemetry":{"a":{"value":1},"b":{"value":2},"c":{"value":3}}}])";
  auto e = batch_error(body, 5);
  EXPECT_EQ(e.field, "telemetry_data");
  EXPECT_EQ(e.details.at("count").to_number<std::size_t>(), 6u);
  EXPECT_TRUE(parse_batch(body, 6, kNow));
}

}  // namespace valtronics::api
