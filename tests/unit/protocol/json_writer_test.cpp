// Unit tests of protocol/json_writer: doubles in plain decimal (integral ones as integers,
// non-finite ones as null) and everything else byte-for-byte as boost::json::serialize.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "protocol/json_writer.hpp"

namespace valtronics::protocol {
namespace {

namespace json = boost::json;

std::string num(double d) { return to_json(json::value(d)); }

// Numeric equality across int64/uint64/double, structural elsewhere: an integral double is
// written as an integer, so it parses back as int64.
bool same(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!same(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    auto it = y.begin();
    for (const auto& kv : x) {
      if (kv.key() != it->key() || !same(kv.value(), it->value())) return false;
      ++it;
    }
    return true;
  }
  return a == b;
}

TEST(JsonWriterNumbers, IntegralDoublesAreIntegers) {
  EXPECT_EQ(num(1.0), "1");
  EXPECT_EQ(num(-3.0), "-3");
  EXPECT_EQ(num(0.0), "0");
  EXPECT_EQ(num(-0.0), "0");
  EXPECT_EQ(num(15.0), "15");
  EXPECT_EQ(num(1704110400.0), "1704110400");
  EXPECT_EQ(num(9007199254740991.0), "9007199254740991");   // 2^53 - 1
  EXPECT_EQ(num(-9007199254740991.0), "-9007199254740991");
}

TEST(JsonWriterNumbers, FractionsAreShortestRoundTrip) {
  EXPECT_EQ(num(25.34), "25.34");
  EXPECT_EQ(num(0.1), "0.1");
  EXPECT_EQ(num(-0.5), "-0.5");
  EXPECT_EQ(num(45.2), "45.2");
  EXPECT_EQ(num(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(num(1e-7), "1e-07");
  EXPECT_EQ(num(5e-324), "5e-324");
}

TEST(JsonWriterNumbers, LargeValues) {
  EXPECT_EQ(num(9007199254740992.0), "9007199254740992");  // 2^53: fmt's shortest form
  EXPECT_EQ(num(1e21), "1e+21");
  EXPECT_EQ(num(1e300), "1e+300");
  EXPECT_EQ(num(-1e300), "-1e+300");
  EXPECT_EQ(num(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
}

TEST(JsonWriterNumbers, EveryDoubleParsesBackExactly) {
  for (double d : {25.34, 0.1, -0.0, 1e-7, 1e300, 9007199254740992.0, 1e21, 123.456e-200,
                   std::numeric_limits<double>::min(), std::numeric_limits<double>::denorm_min(),
                   std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(),
                   9007199254740993.0 * 4, 2.5, 1.0 / 3}) {
    const auto text = num(d);
    EXPECT_EQ(text.find_first_of("E"), std::string::npos) << text;
    // strtod is correctly rounded; Boost.JSON 1.81's parser is not always (it can be 1 ulp off
    // for long mantissas with large exponents), so it is only checked to be very close.
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), d) << text;
    EXPECT_DOUBLE_EQ(json::parse(text).to_number<double>(), d) << text;
  }
}

TEST(JsonWriterNumbers, NonFiniteIsNull) {
  EXPECT_EQ(num(std::nan("")), "null");
  EXPECT_EQ(num(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(num(-std::numeric_limits<double>::infinity()), "null");
  // From a client: 1e400 parses as infinity.
  EXPECT_EQ(to_json(json::parse(R"({"a":1e400,"b":[-1e400]})")), R"({"a":null,"b":[null]})");
}

TEST(JsonWriterNumbers, IntegersAsBoost) {
  for (const json::value& v :
       {json::value(0), json::value(-1), json::value(std::numeric_limits<std::int64_t>::min()),
        json::value(std::numeric_limits<std::int64_t>::max()),
        json::value(std::numeric_limits<std::uint64_t>::max())}) {
    EXPECT_EQ(to_json(v), json::serialize(v));
  }
}

TEST(JsonWriterNumbers, Pieces) {
  std::string out;
  append_json_double(out, 23.5);
  out.push_back(',');
  append_json_int(out, -7);
  out.push_back(',');
  append_json_uint(out, 18446744073709551615ull);
  out.push_back(',');
  append_json_string(out, "a\"b");
  EXPECT_EQ(out, R"(23.5,-7,18446744073709551615,"a\"b")");
}

TEST(JsonWriterStructure, CompactLikeBoost) {
  const auto v = json::parse(
      R"({"a":[1,"x",{"b":null,"c":true,"d":false}],"e":{},"f":[],"g":{"h":[[[]]]},"n":-12})");
  EXPECT_EQ(to_json(v), json::serialize(v));
  EXPECT_EQ(to_json(v),
            R"({"a":[1,"x",{"b":null,"c":true,"d":false}],"e":{},"f":[],"g":{"h":[[[]]]},"n":-12})");
  EXPECT_EQ(to_json(json::value(nullptr)), "null");
  EXPECT_EQ(to_json(json::value(true)), "true");
  EXPECT_EQ(to_json(json::object{}), "{}");
  EXPECT_EQ(to_json(json::array{}), "[]");
}

TEST(JsonWriterStructure, NestedWithDoubles) {
  json::object o;
  o["value"] = 25.34;
  o["count"] = 1.0;
  o["list"] = json::array{0.1, -3.0, 1e300, std::nan("")};
  o["inner"] = json::object{{"x", 2.5}, {"y", json::array{json::object{{"z", 1e-7}}}}};
  EXPECT_EQ(to_json(o),
            R"({"value":25.34,"count":1,"list":[0.1,-3,1e+300,null],)"
            R"("inner":{"x":2.5,"y":[{"z":1e-07}]}})");
}

TEST(JsonWriterStructure, AppendsToExistingText) {
  std::string out = "prefix:";
  append_json(out, json::value(json::array{1.5, "s"}));
  append_json(out, json::object{{"k", 2.0}});
  EXPECT_EQ(out, R"(prefix:[1.5,"s"]{"k":2})");
}

TEST(JsonWriterStrings, EveryByteEscapedAsBoost) {
  for (int c = 0; c < 256; ++c) {
    const std::string s = "a" + std::string(1, static_cast<char>(c)) + "b";
    const json::string_view jsv(s.data(), s.size());
    EXPECT_EQ(to_json(json::value(jsv)), json::serialize(jsv)) << c;
    std::string piece;
    append_json_string(piece, s);
    EXPECT_EQ(piece, json::serialize(jsv)) << c;
  }
}

TEST(JsonWriterStrings, EscapingOfQuotesControlsAndUnicode) {
  EXPECT_EQ(to_json(json::value("plain")), R"("plain")");
  EXPECT_EQ(to_json(json::value("")), R"("")");
  EXPECT_EQ(to_json(json::value("q\"b\\s/")), R"("q\"b\\s/")");
  EXPECT_EQ(to_json(json::value("\n\t\r\b\f")), R"("\n\t\r\b\f")");
  EXPECT_EQ(to_json(json::value(json::string_view("\x00\x01\x1f", 3))), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(to_json(json::value("\xc2\xb0"
                                "C \xe2\x82\xac \xf0\x9f\x98\x80")),
            "\"\xc2\xb0"
            "C \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(to_json(json::value("</script>")), R"("</script>")");
}

TEST(JsonWriterStrings, KeysAreEscapedToo) {
  json::object o;
  o["a\"b"] = 1;
  o["line\nbreak"] = json::array{"x\x01y"};
  EXPECT_EQ(to_json(o), json::serialize(o));
  EXPECT_EQ(to_json(o), R"({"a\"b":1,"line\nbreak":["x\u0001y"]})");
}

TEST(JsonWriterStrings, LongStringNeedingEscapes) {
  std::string s;
  for (int i = 0; i < 5000; ++i) s += (i % 7 == 0) ? '\x02' : (i % 5 == 0 ? '"' : 'x');
  const json::string_view jsv(s.data(), s.size());
  EXPECT_EQ(to_json(json::value(jsv)), json::serialize(jsv));
  std::string only_controls(3000, '\x01');
  const json::string_view c(only_controls.data(), only_controls.size());
  EXPECT_EQ(to_json(json::value(c)), json::serialize(c));
}

TEST(JsonWriterRoundTrip, ParsesBackToAnEqualValue) {
  const char* docs[] = {
      R"({"type":"telemetry_update","device_id":1,"telemetry":{"t":{"value":25.34,"unit":"\u00b0C"}}})",
      R"([0.1,-0.0,1e-7,1e300,9007199254740992,-3,1.0,"\"\\\n\u0001",{"a":{"b":[true,false,null]}}])",
      R"({"":"","nested":[[[[{"x":[1.5e-10,2.25]}]]]],"big":18446744073709551615,"neg":-9223372036854775808})",
  };
  for (const char* doc : docs) {
    const auto v = json::parse(doc);
    const auto text = to_json(v);
    EXPECT_TRUE(same(json::parse(text), v)) << text;
    // Writing what was parsed back gives the same text again.
    EXPECT_EQ(to_json(json::parse(text)), text);
  }
  // Without integral doubles the parsed value is equal under json::value's own ==.
  const auto v = json::parse(R"({"a":[25.34,0.1,1e-7,1e300,"s"],"b":{"c":-2.5}})");
  EXPECT_EQ(json::parse(to_json(v)), v);
}

}  // namespace
}  // namespace valtronics::protocol
