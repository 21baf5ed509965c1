// Unit tests of protocol/parse: every client message, every filter of every channel (at top level
// and under `filters`), normalization, conflicts, unknown keys, bad values, batches, id echo, and
// hostile input that must yield an error rather than an exception.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "protocol/parse.hpp"

namespace valtronics::protocol {
namespace {

namespace json = boost::json;
using model::AlertType;
using model::Channel;
using model::DeviceStatus;
using model::Severity;
using std::chrono::milliseconds;

const ParseOptions kOpts{};

Request parse_ok(std::string_view text, const ParseOptions& opts = kOpts) {
  auto r = parse_request(text, opts);
  if (!r) {
    ADD_FAILURE() << "unexpected error " << to_string(r.error().code) << ": " << r.error().message
                  << "\n  for " << text;
    return Request{std::nullopt, PingRequest{}};
  }
  return *r;
}

ProtocolError parse_err(std::string_view text, const ParseOptions& opts = kOpts) {
  auto r = parse_request(text, opts);
  if (r) {
    ADD_FAILURE() << "expected an error for " << text;
    return ProtocolError{ErrorCode::internal_error, "", std::nullopt};
  }
  return r.error();
}

SubscribeRequest subscribe_ok(std::string_view text, const ParseOptions& opts = kOpts) {
  auto req = parse_ok(text, opts);
  auto* s = std::get_if<SubscribeRequest>(&req.body);
  if (!s) {
    ADD_FAILURE() << "not a subscribe: " << text;
    return SubscribeRequest{Channel::telemetry, {}};
  }
  return *s;
}

// The same filter written at top level and nested under `filters`.
std::string top_level(std::string_view channel, std::string_view key, std::string_view value) {
  return R"({"type":"subscribe","channel":")" + std::string(channel) + R"(",")" + std::string(key) +
         R"(":)" + std::string(value) + "}";
}
std::string nested(std::string_view channel, std::string_view key, std::string_view value) {
  return R"({"type":"subscribe","channel":")" + std::string(channel) + R"(","filters":{")" +
         std::string(key) + R"(":)" + std::string(value) + "}}";
}

// Parses a one-filter subscribe both ways; both must give the same filters, which are returned.
Filters one_filter(std::string_view channel, std::string_view key, std::string_view value) {
  const auto a = subscribe_ok(top_level(channel, key, value));
  const auto b = subscribe_ok(nested(channel, key, value));
  EXPECT_EQ(model::to_string(a.channel), channel);
  EXPECT_EQ(a.channel, b.channel);
  EXPECT_EQ(a.filters, b.filters) << key << "=" << value;
  return a.filters;
}

// Expects a one-filter subscribe to fail the same way in both places, with `key` in the message.
void one_filter_fails(std::string_view channel, std::string_view key, std::string_view value,
                      ErrorCode code) {
  for (const auto& text : {top_level(channel, key, value), nested(channel, key, value)}) {
    const auto e = parse_err(text);
    EXPECT_EQ(e.code, code) << text << " -> " << e.message;
    EXPECT_NE(e.message.find("'" + std::string(key) + "'"), std::string::npos)
        << text << " -> " << e.message;
  }
}

Filters defaults(Channel c) {
  Filters f;
  if (c == Channel::system) f.frequency = kOpts.system_default_frequency;
  return f;
}

// ---- envelope -------------------------------------------------------------------------------

TEST(ParseEnvelope, NotJson) {
  for (const char* s : {"", "{", "not json", "{\"type\":\"ping\"", "{\"type\":\"ping\"} x",
                        "{'type':'ping'}", "\xff\xfe"}) {
    EXPECT_EQ(parse_err(s).code, ErrorCode::invalid_json) << s;
  }
}

TEST(ParseEnvelope, NotAnObject) {
  for (const char* s : {"[]", "[{\"type\":\"ping\"}]", "1", "\"ping\"", "null", "true"}) {
    const auto e = parse_err(s);
    EXPECT_EQ(e.code, ErrorCode::invalid_json) << s;
    EXPECT_FALSE(e.id);
  }
}

TEST(ParseEnvelope, MissingOrBadType) {
  auto e = parse_err(R"({"channel":"telemetry"})");
  EXPECT_EQ(e.code, ErrorCode::invalid_message);
  EXPECT_NE(e.message.find("'type'"), std::string::npos);
  e = parse_err(R"({"type":1})");
  EXPECT_EQ(e.code, ErrorCode::invalid_message);
  EXPECT_NE(e.message.find("'type'"), std::string::npos);
  EXPECT_EQ(parse_err(R"({"type":null})").code, ErrorCode::invalid_message);
  EXPECT_EQ(parse_err(R"({"type":["ping"]})").code, ErrorCode::invalid_message);
}

TEST(ParseEnvelope, UnknownType) {
  for (const char* t : {"pong", "Ping", "telemetry_update", "", "auth "}) {
    const auto e = parse_err(R"({"type":")" + std::string(t) + R"("})");
    EXPECT_EQ(e.code, ErrorCode::unknown_type) << t;
    EXPECT_NE(e.message.find("'" + std::string(t) + "'"), std::string::npos) << e.message;
  }
}

TEST(ParseHello, FeaturesAreKeptInOrderAndABadListIsInvalid) {
  auto req = parse_ok(R"({"type":"hello","features":["coalesce","later"],"id":"h"})");
  auto* h = std::get_if<HelloRequest>(&req.body);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->features, (std::vector<std::string>{"coalesce", "later"}));
  ASSERT_TRUE(req.id);
  EXPECT_EQ(*req.id, boost::json::value("h"));
  req = parse_ok(R"({"type":"hello"})");
  ASSERT_NE(std::get_if<HelloRequest>(&req.body), nullptr);
  EXPECT_TRUE(std::get<HelloRequest>(req.body).features.empty());
  std::string many = "[";  // 17 features: one past the bound
  for (int i = 0; i < 17; ++i) many += std::string(i ? "," : "") + R"("f")";
  many += "]";
  const std::vector<std::string> bad_lists = {R"("coalesce")", "[1]", "[null]", "{}",
                                              "[\"" + std::string(65, 'x') + "\"]", many};
  for (const auto& bad : bad_lists) {
    const auto e = parse_err(R"({"type":"hello","id":3,"features":)" + bad + "}");
    EXPECT_EQ(e.code, ErrorCode::invalid_message) << bad;
    EXPECT_EQ(e.message,
              "invalid 'features': expected a list of at most 16 feature names of at most 64 "
              "characters");
    EXPECT_TRUE(e.id) << "the id is echoed";
  }
}

TEST(ParseEnvelope, LongTypeIsCutInTheMessage) {
  const std::string t(5000, 'x');
  const auto e = parse_err(R"({"type":")" + t + R"("})");
  EXPECT_EQ(e.code, ErrorCode::unknown_type);
  EXPECT_LT(e.message.size(), 200u);
}

TEST(ParseEnvelope, CutKeepsUtf8Valid) {
  // 63 ASCII then multi-byte characters straddling the cut.
  const std::string t = std::string(63, 'a') + "\xc3\xa9\xc3\xa9\xc3\xa9";
  const auto e = parse_err(R"({"type":")" + t + R"("})");
  // Serializing and re-parsing with UTF-8 validation proves the message is valid UTF-8.
  json::object o;
  o["m"] = e.message;
  boost::system::error_code ec;
  json::parse(json::serialize(o), ec);
  EXPECT_FALSE(ec) << e.message;
}

TEST(ParseEnvelope, IdIsEchoedOnSuccess) {
  auto r = parse_ok(R"({"type":"ping","id":7})");
  ASSERT_TRUE(r.id);
  EXPECT_EQ(*r.id, json::value(7));
  r = parse_ok(R"({"id":"abc","type":"ping"})");
  ASSERT_TRUE(r.id);
  EXPECT_EQ(*r.id, json::value("abc"));
  r = parse_ok(R"({"type":"ping","id":1.5})");
  ASSERT_TRUE(r.id);
  EXPECT_EQ(*r.id, json::value(1.5));
  r = parse_ok(R"({"type":"ping"})");
  EXPECT_FALSE(r.id);
  r = parse_ok(R"({"type":"ping","id":null})");
  EXPECT_FALSE(r.id);
}

TEST(ParseEnvelope, IdIsEchoedOnErrors) {
  // Read before anything else can fail.
  for (const char* s : {
           R"({"id":42})",
           R"({"id":42,"type":7})",
           R"({"id":42,"type":"nope"})",
           R"({"id":42,"type":"subscribe"})",
           R"({"id":42,"type":"subscribe","channel":"nope"})",
           R"({"id":42,"type":"subscribe","channel":"telemetry","foo":1})",
           R"({"id":42,"type":"subscribe","channel":"telemetry","device_id":0})",
           R"({"id":42,"type":"batch","messages":[{"type":"batch","messages":[]}]})",
           R"({"id":42,"type":"unsubscribe"})",
       }) {
    const auto e = parse_err(s);
    ASSERT_TRUE(e.id) << s;
    EXPECT_EQ(*e.id, json::value(42)) << s;
  }
}

TEST(ParseEnvelope, BadIdIsInvalidMessage) {
  for (const char* s : {R"({"type":"ping","id":{}})", R"({"type":"ping","id":[1]})",
                        R"({"type":"ping","id":true})", R"({"type":"ping","id":1e400})"}) {
    const auto e = parse_err(s);
    EXPECT_EQ(e.code, ErrorCode::invalid_message) << s;
    EXPECT_NE(e.message.find("'id'"), std::string::npos);
    EXPECT_FALSE(e.id);
  }
}

TEST(ParseEnvelope, DeepNestingIsRejectedNotCrashing) {
  std::string deep = R"({"type":"ping","timestamp":)";
  for (int i = 0; i < 100000; ++i) deep += '[';
  for (int i = 0; i < 100000; ++i) deep += ']';
  deep += '}';
  EXPECT_EQ(parse_err(deep).code, ErrorCode::invalid_json);
  EXPECT_FALSE(is_batch_frame(deep));

  std::string ok = R"({"type":"ping","timestamp":)";
  for (int i = 0; i < 20; ++i) ok += '[';
  for (int i = 0; i < 20; ++i) ok += ']';
  ok += '}';
  parse_ok(ok);
}

TEST(ParseEnvelope, HostileInputsNeverThrow) {
  const std::vector<std::string> inputs{
      std::string("\0\0\0", 3),
      "{\"type\":\"subscribe\",\"channel\":\"telemetry\",\"device_id\":1e999}",
      "{\"type\":\"subscribe\",\"channel\":\"telemetry\",\"device_id\":-9223372036854775808}",
      "{\"type\":\"subscribe\",\"channel\":\"telemetry\",\"device_id\":18446744073709551615}",
      "{\"type\":\"subscribe\",\"channel\":\"telemetry\",\"device_id\":99999999999999999999999}",
      "{\"type\":\"subscribe\",\"channel\":\"\\u0000\"}",
      "{\"type\":\"\\ud800\"}",
      "{\"type\":\"batch\",\"messages\":[1,\"x\",null,[],{}]}",
      std::string(10000, '{'),
      std::string(10000, '['),
      "{\"a\":" + std::string(50, '[') + "}"};
  for (const auto& s : inputs) {
    EXPECT_NO_THROW({
      auto r = parse_request(s, kOpts);
      (void)r;
      (void)is_batch_frame(s);
    }) << s.substr(0, 80);
  }
}

TEST(ParseEnvelope, ParseRequestValueMatchesParseRequest) {
  const auto v =
      json::parse(R"({"type":"subscribe","channel":"alerts","severity":"critical","id":3})");
  auto r = parse_request_value(v, kOpts);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r->id, json::value(3));
  const auto& s = std::get<SubscribeRequest>(r->body);
  EXPECT_EQ(s.filters.severities, std::vector<Severity>{Severity::critical});

  auto e = parse_request_value(json::value(5), kOpts);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, ErrorCode::invalid_json);
}

// ---- auth -----------------------------------------------------------------------------------

TEST(ParseAuth, Token) {
  auto r = parse_ok(R"({"type":"auth","token":"jwt-token-string"})");
  EXPECT_EQ(std::get<AuthRequest>(r.body).token, "jwt-token-string");
}

TEST(ParseAuth, MissingOrEmptyTokenGivesEmptyToken) {
  for (const char* s :
       {R"({"type":"auth"})", R"({"type":"auth","token":""})", R"({"type":"auth","token":null})"}) {
    auto r = parse_ok(s);
    EXPECT_EQ(std::get<AuthRequest>(r.body).token, "") << s;
  }
}

TEST(ParseAuth, NonStringTokenIsAMalformedAuthAttempt) {
  // Still an auth request, so the session answers with a failed auth_response and closes 4001.
  for (const char* s : {R"({"type":"auth","token":5})", R"({"type":"auth","token":["a"]})",
                        R"({"type":"auth","token":{}})"}) {
    auto r = parse_ok(s);
    EXPECT_TRUE(std::get<AuthRequest>(r.body).malformed) << s;
  }
  EXPECT_FALSE(std::get<AuthRequest>(parse_ok(R"({"type":"auth","token":"t"})").body).malformed);
}

// ---- subscribe: channel ---------------------------------------------------------------------

TEST(ParseSubscribe, EveryChannelWithoutFilters) {
  for (auto c : {Channel::telemetry, Channel::alerts, Channel::devices, Channel::system}) {
    const auto s =
        subscribe_ok(R"({"type":"subscribe","channel":")" + std::string(model::to_string(c)) + R"("})");
    EXPECT_EQ(s.channel, c);
    EXPECT_EQ(s.filters, defaults(c)) << model::to_string(c);
  }
}

TEST(ParseSubscribe, MissingChannel) {
  const auto e = parse_err(R"({"type":"subscribe","device_id":1})");
  EXPECT_EQ(e.code, ErrorCode::invalid_message);
  EXPECT_NE(e.message.find("'channel'"), std::string::npos);
}

TEST(ParseSubscribe, ChannelNotAString) {
  for (const char* s :
       {R"({"type":"subscribe","channel":1})", R"({"type":"subscribe","channel":null})",
        R"({"type":"subscribe","channel":["alerts"]})"}) {
    const auto e = parse_err(s);
    EXPECT_EQ(e.code, ErrorCode::invalid_message) << s;
    EXPECT_NE(e.message.find("'channel'"), std::string::npos);
  }
}

TEST(ParseSubscribe, UnknownChannel) {
  for (const char* c : {"channel-name", "Telemetry", "alert", "", "ws/telemetry"}) {
    const auto e = parse_err(R"({"type":"subscribe","channel":")" + std::string(c) + R"("})");
    EXPECT_EQ(e.code, ErrorCode::unknown_channel) << c;
    EXPECT_NE(e.message.find("'" + std::string(c) + "'"), std::string::npos) << e.message;
  }
  EXPECT_EQ(parse_err(R"({"type":"subscribe","channel":"x"})").message,
            "unknown channel 'x' (expected telemetry, alerts, devices or system)");
}

// ---- subscribe: device_id (telemetry, alerts, devices) ---------------------------------------

TEST(ParseFilterDeviceId, NumberOrListOnEveryDeviceChannel) {
  for (const char* c : {"telemetry", "alerts", "devices"}) {
    EXPECT_EQ(one_filter(c, "device_id", "1").device_ids, (std::vector<std::int64_t>{1})) << c;
    EXPECT_EQ(one_filter(c, "device_id", "[3,1,2]").device_ids,
              (std::vector<std::int64_t>{1, 2, 3}))
        << c;
    EXPECT_EQ(one_filter(c, "device_id", "[2,2,1,2]").device_ids, (std::vector<std::int64_t>{1, 2}))
        << c;
    EXPECT_EQ(one_filter(c, "device_id", "9223372036854775807").device_ids,
              (std::vector<std::int64_t>{9223372036854775807LL}))
        << c;
  }
}

TEST(ParseFilterDeviceId, OnlyDeviceIdIsSet) {
  Filters expected;
  expected.device_ids = {5};
  EXPECT_EQ(one_filter("telemetry", "device_id", "5"), expected);
}

TEST(ParseFilterDeviceId, Invalid) {
  for (const char* c : {"telemetry", "alerts", "devices"}) {
    for (const char* v :
         {"0", "-1", "1.0", "1.5", "\"1\"", "null", "true", "[]", "[0]", "[1,0]", "[1,\"2\"]",
          "[1,1.0]", "[[1]]", "{}", "9223372036854775808", "18446744073709551615", "1e3"}) {
      one_filter_fails(c, "device_id", v, ErrorCode::invalid_filter);
    }
  }
}

TEST(ParseFilterDeviceId, UnknownOnSystem) {
  one_filter_fails("system", "device_id", "1", ErrorCode::unknown_filter);
  const auto e = parse_err(top_level("system", "device_id", "1"));
  EXPECT_EQ(e.message, "unknown filter 'device_id' for channel system");
}

// ---- subscribe: metrics (telemetry, system) -------------------------------------------------

TEST(ParseFilterMetrics, TelemetryAcceptsAnyValidNameSortedUnique) {
  EXPECT_EQ(one_filter("telemetry", "metrics", R"(["temperature","humidity"])").metrics,
            (std::vector<std::string>{"humidity", "temperature"}));
  EXPECT_EQ(one_filter("telemetry", "metrics", R"(["a","a","b.c-d_9"])").metrics,
            (std::vector<std::string>{"a", "b.c-d_9"}));
  EXPECT_EQ(one_filter("telemetry", "metrics", "[\"" + std::string(64, 'x') + "\"]").metrics,
            (std::vector<std::string>{std::string(64, 'x')}));
}

TEST(ParseFilterMetrics, TelemetryInvalid) {
  for (const std::string& v : std::vector<std::string>{
           "\"temperature\"", "[]", "[1]", "null", "{}", "[\"Temperature\"]", "[\"\"]",
           "[\"has space\"]", "[\"a/b\"]", "[\"ok\",\"NOT\"]", "[\"" + std::string(65, 'x') + "\"]",
           "[\"caf\\u00e9\"]", "[[\"a\"]]"}) {
    one_filter_fails("telemetry", "metrics", v, ErrorCode::invalid_filter);
  }
}

TEST(ParseFilterMetrics, BadNameIsNamedInTheMessage) {
  const auto e = parse_err(top_level("telemetry", "metrics", R"(["ok","Bad Name"])"));
  EXPECT_EQ(e.code, ErrorCode::invalid_filter);
  EXPECT_NE(e.message.find("'Bad Name'"), std::string::npos) << e.message;
}

TEST(ParseFilterMetrics, SystemKnownMetrics) {
  const auto f =
      one_filter("system", "metrics", R"(["memory_usage","cpu_usage","active_connections"])");
  EXPECT_EQ(f.metrics,
            (std::vector<std::string>{"active_connections", "cpu_usage", "memory_usage"}));
  EXPECT_EQ(f.frequency, milliseconds{30000});
  for (const auto& m : kOpts.system_metrics) {
    EXPECT_EQ(one_filter("system", "metrics", "[\"" + m + "\"]").metrics,
              std::vector<std::string>{m});
  }
}

TEST(ParseFilterMetrics, SystemUnknownMetric) {
  one_filter_fails("system", "metrics", R"(["cpu_usage","temperature"])",
                   ErrorCode::invalid_filter);
  const auto e = parse_err(top_level("system", "metrics", R"(["temperature"])"));
  EXPECT_NE(e.message.find("'temperature'"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("cpu_usage"), std::string::npos)
      << "lists the known ones: " << e.message;
}

TEST(ParseFilterMetrics, SystemMetricsComeFromOptions) {
  ParseOptions opts;
  opts.system_metrics = {"cpu_usage", "gpu_temp"};
  auto s = subscribe_ok(top_level("system", "metrics", R"(["gpu_temp"])"), opts);
  EXPECT_EQ(s.filters.metrics, std::vector<std::string>{"gpu_temp"});
  EXPECT_EQ(parse_err(top_level("system", "metrics", R"(["memory_usage"])"), opts).code,
            ErrorCode::invalid_filter);
}

TEST(ParseFilterMetrics, UnknownOnAlertsAndDevices) {
  one_filter_fails("alerts", "metrics", R"(["a"])", ErrorCode::unknown_filter);
  one_filter_fails("devices", "metrics", R"(["a"])", ErrorCode::unknown_filter);
}

// ---- subscribe: frequency (telemetry, system) -----------------------------------------------

TEST(ParseFilterFrequency, Telemetry) {
  EXPECT_EQ(one_filter("telemetry", "frequency", "\"real-time\"").frequency, milliseconds{0});
  EXPECT_EQ(one_filter("telemetry", "frequency", "\"500ms\"").frequency, milliseconds{500});
  EXPECT_EQ(one_filter("telemetry", "frequency", "\"100ms\"").frequency, milliseconds{100});
  EXPECT_EQ(one_filter("telemetry", "frequency", "\"1s\"").frequency, milliseconds{1000});
  EXPECT_EQ(one_filter("telemetry", "frequency", "\"30s\"").frequency, milliseconds{30000});
  EXPECT_EQ(one_filter("telemetry", "frequency", "\"5m\"").frequency, milliseconds{300000});
  EXPECT_EQ(one_filter("telemetry", "frequency", "\"1h\"").frequency, milliseconds{3600000});
}

TEST(ParseFilterFrequency, TelemetryDefaultsToRealTime) {
  EXPECT_EQ(subscribe_ok(R"({"type":"subscribe","channel":"telemetry"})").filters.frequency,
            milliseconds{0});
}

TEST(ParseFilterFrequency, TelemetryInvalid) {
  for (const char* v :
       {"\"99ms\"", "\"1ms\"", "\"0s\"", "\"-1s\"", "\"1.5s\"", "\"1\"", "\"fast\"", "\"realtime\"",
        "\"Real-Time\"", "\"\"", "1000", "1", "null", "[\"1s\"]", "\"1 s\"", "\"1w\""}) {
    one_filter_fails("telemetry", "frequency", v, ErrorCode::invalid_filter);
  }
}

TEST(ParseFilterFrequency, TelemetryMessageSaysWhatIsExpected) {
  const auto e = parse_err(top_level("telemetry", "frequency", "\"fast\""));
  EXPECT_EQ(e.message,
            "invalid filter 'frequency': expected \"real-time\" or a duration like \"500ms\", "
            "\"1s\", \"5m\"");
  const auto low = parse_err(top_level("telemetry", "frequency", "\"50ms\""));
  EXPECT_NE(low.message.find("100ms"), std::string::npos) << low.message;
}

TEST(ParseFilterFrequency, System) {
  EXPECT_EQ(one_filter("system", "frequency", "\"30s\"").frequency, milliseconds{30000});
  EXPECT_EQ(one_filter("system", "frequency", "\"1s\"").frequency, milliseconds{1000});
  EXPECT_EQ(one_filter("system", "frequency", "\"1000ms\"").frequency, milliseconds{1000});
  EXPECT_EQ(one_filter("system", "frequency", "\"5m\"").frequency, milliseconds{300000});
}

TEST(ParseFilterFrequency, SystemDefaultAndMinimumFromOptions) {
  ParseOptions opts;
  opts.system_default_frequency = milliseconds{10000};
  opts.system_min_frequency = milliseconds{5000};
  EXPECT_EQ(subscribe_ok(R"({"type":"subscribe","channel":"system"})", opts).filters.frequency,
            milliseconds{10000});
  EXPECT_EQ(subscribe_ok(top_level("system", "frequency", "\"5s\""), opts).filters.frequency,
            milliseconds{5000});
  const auto e = parse_err(top_level("system", "frequency", "\"4s\""), opts);
  EXPECT_EQ(e.code, ErrorCode::invalid_filter);
  EXPECT_NE(e.message.find("5s"), std::string::npos) << e.message;
}

TEST(ParseFilterFrequency, SystemInvalid) {
  for (const char* v :
       {"\"real-time\"", "\"999ms\"", "\"500ms\"", "\"0s\"", "\"x\"", "30", "null", "\"1.5s\""}) {
    one_filter_fails("system", "frequency", v, ErrorCode::invalid_filter);
  }
}

TEST(ParseFilterFrequency, UnknownOnAlertsAndDevices) {
  one_filter_fails("alerts", "frequency", "\"1s\"", ErrorCode::unknown_filter);
  one_filter_fails("devices", "frequency", "\"1s\"", ErrorCode::unknown_filter);
}

// ---- subscribe: severity, alert_type (alerts) -------------------------------------------------

TEST(ParseFilterSeverity, StringOrList) {
  EXPECT_EQ(one_filter("alerts", "severity", "\"critical\"").severities,
            std::vector<Severity>{Severity::critical});
  EXPECT_EQ(one_filter("alerts", "severity", R"(["critical","warning"])").severities,
            (std::vector<Severity>{Severity::warning, Severity::critical}));
  // Sorted by value (info < warning < critical), de-duplicated.
  EXPECT_EQ(one_filter("alerts", "severity", R"(["warning","info","critical","info"])").severities,
            (std::vector<Severity>{Severity::info, Severity::warning, Severity::critical}));
}

TEST(ParseFilterSeverity, Invalid) {
  for (const char* v : {"\"fatal\"", "\"Critical\"", "[]", "[\"critical\",\"bad\"]", "1", "null",
                        "[1]", "{}", "\"\""}) {
    one_filter_fails("alerts", "severity", v, ErrorCode::invalid_filter);
  }
  const auto e = parse_err(top_level("alerts", "severity", "\"fatal\""));
  EXPECT_EQ(e.message,
            "invalid filter 'severity': unknown value 'fatal' (expected info, warning, critical)");
  EXPECT_EQ(parse_err(top_level("alerts", "severity", "1")).message,
            "invalid filter 'severity': expected one of info, warning, critical, or a non-empty "
            "list of them");
}

TEST(ParseFilterSeverity, UnknownElsewhere) {
  for (const char* c : {"telemetry", "devices", "system"}) {
    one_filter_fails(c, "severity", "\"critical\"", ErrorCode::unknown_filter);
  }
}

TEST(ParseFilterAlertType, StringOrList) {
  EXPECT_EQ(one_filter("alerts", "alert_type", "\"threshold\"").alert_types,
            std::vector<AlertType>{AlertType::threshold});
  EXPECT_EQ(
      one_filter("alerts", "alert_type", R"(["system","manual","device","anomaly","threshold"])")
          .alert_types,
      (std::vector<AlertType>{AlertType::threshold, AlertType::anomaly, AlertType::device,
                              AlertType::system, AlertType::manual}));
}

TEST(ParseFilterAlertType, Invalid) {
  for (const char* v : {"\"other\"", "[]", "[\"threshold\",\"x\"]", "2", "null", "[null]"}) {
    one_filter_fails("alerts", "alert_type", v, ErrorCode::invalid_filter);
  }
}

TEST(ParseFilterAlertType, UnknownElsewhere) {
  for (const char* c : {"telemetry", "devices", "system"}) {
    one_filter_fails(c, "alert_type", "\"threshold\"", ErrorCode::unknown_filter);
  }
}

TEST(ParseFilterAlerts, SpecExample) {
  const auto s = subscribe_ok(
      R"({"type":"subscribe","channel":"alerts","filters":{"severity":["critical","warning"],"device_id":1}})");
  Filters expected;
  expected.severities = {Severity::warning, Severity::critical};
  expected.device_ids = {1};
  EXPECT_EQ(s.filters, expected);
}

// ---- subscribe: status_types (devices) --------------------------------------------------------

TEST(ParseFilterStatusTypes, ListOrString) {
  EXPECT_EQ(one_filter("devices", "status_types", R"(["warning","offline","online"])").status_types,
            (std::vector<DeviceStatus>{DeviceStatus::online, DeviceStatus::offline,
                                       DeviceStatus::warning}));
  EXPECT_EQ(one_filter("devices", "status_types", "\"maintenance\"").status_types,
            std::vector<DeviceStatus>{DeviceStatus::maintenance});
  EXPECT_EQ(one_filter("devices", "status_types", R"(["error","error"])").status_types,
            std::vector<DeviceStatus>{DeviceStatus::error});
}

TEST(ParseFilterStatusTypes, Invalid) {
  for (const char* v : {"\"rebooting\"", "[]", "[\"online\",\"Online\"]", "0", "null", "{}"}) {
    one_filter_fails("devices", "status_types", v, ErrorCode::invalid_filter);
  }
}

TEST(ParseFilterStatusTypes, UnknownElsewhere) {
  for (const char* c : {"telemetry", "alerts", "system"}) {
    one_filter_fails(c, "status_types", R"(["online"])", ErrorCode::unknown_filter);
  }
}

TEST(ParseFilterDevices, SpecExample) {
  const auto s = subscribe_ok(
      R"({"type":"subscribe","channel":"devices","filters":{"device_id":[1,2,3],"status_types":["online","offline","warning"]}})");
  EXPECT_EQ(s.filters.device_ids, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(s.filters.status_types, (std::vector<DeviceStatus>{DeviceStatus::online,
                                                                DeviceStatus::offline,
                                                                DeviceStatus::warning}));
}

// ---- subscribe: spec examples, unknown keys, mixing places, conflicts -----------------------

TEST(ParseSubscribe, SpecTelemetryExample) {
  const auto s = subscribe_ok(
      R"({"type":"subscribe","channel":"telemetry","device_id":1,"filters":{"metrics":["temperature","humidity"],"frequency":"real-time"}})");
  Filters expected;
  expected.device_ids = {1};
  expected.metrics = {"humidity", "temperature"};
  EXPECT_EQ(s.filters, expected);
}

TEST(ParseSubscribe, SpecSystemExample) {
  const auto s = subscribe_ok(
      R"({"type":"subscribe","channel":"system","filters":{"metrics":["cpu_usage","memory_usage","active_connections"],"frequency":"30s"}})");
  EXPECT_EQ(s.filters.metrics,
            (std::vector<std::string>{"active_connections", "cpu_usage", "memory_usage"}));
  EXPECT_EQ(s.filters.frequency, milliseconds{30000});
}

TEST(ParseSubscribe, JsClientSpreadsFiltersAtTopLevel) {
  const auto s = subscribe_ok(
      R"({"type":"subscribe","channel":"alerts","severity":["critical","warning"],"alert_type":"threshold","device_id":[4,2]})");
  EXPECT_EQ(s.filters.severities, (std::vector<Severity>{Severity::warning, Severity::critical}));
  EXPECT_EQ(s.filters.alert_types, std::vector<AlertType>{AlertType::threshold});
  EXPECT_EQ(s.filters.device_ids, (std::vector<std::int64_t>{2, 4}));
}

TEST(ParseSubscribe, UnknownKeyAtTopLevelOrNested) {
  for (const char* c : {"telemetry", "alerts", "devices", "system"}) {
    one_filter_fails(c, "foo", "1", ErrorCode::unknown_filter);
    one_filter_fails(c, "device", "1", ErrorCode::unknown_filter);
    one_filter_fails(c, "token", "\"x\"", ErrorCode::unknown_filter);
  }
  const auto e = parse_err(top_level("telemetry", "foo", "1"));
  EXPECT_EQ(e.message, "unknown filter 'foo' for channel telemetry");
  const auto n = parse_err(nested("alerts", "foo", "1"));
  EXPECT_EQ(n.message, "unknown filter 'foo' for channel alerts");
}

TEST(ParseSubscribe, EnvelopeKeysUnderFiltersAreUnknown) {
  // Only the message itself has type/id/channel/filters.
  for (const char* k : {"type", "id", "channel", "filters"}) {
    const auto e = parse_err(nested("telemetry", k, "\"telemetry\""));
    EXPECT_EQ(e.code, ErrorCode::unknown_filter) << k;
  }
}

TEST(ParseSubscribe, FiltersMustBeAnObject) {
  for (const char* v : {"[]", "1", "\"metrics\"", "true"}) {
    const auto e =
        parse_err(R"({"type":"subscribe","channel":"telemetry","filters":)" + std::string(v) + "}");
    EXPECT_EQ(e.code, ErrorCode::invalid_message) << v;
    EXPECT_NE(e.message.find("'filters'"), std::string::npos);
  }
  // null and {} mean "no filters".
  EXPECT_EQ(subscribe_ok(R"({"type":"subscribe","channel":"telemetry","filters":null})").filters,
            Filters{});
  EXPECT_EQ(subscribe_ok(R"({"type":"subscribe","channel":"telemetry","filters":{}})").filters,
            Filters{});
}

TEST(ParseSubscribe, DifferentKeysInBothPlacesMerge) {
  const auto s = subscribe_ok(
      R"({"type":"subscribe","channel":"telemetry","metrics":["b","a"],"filters":{"device_id":[7],"frequency":"1s"}})");
  Filters expected;
  expected.device_ids = {7};
  expected.metrics = {"a", "b"};
  expected.frequency = milliseconds{1000};
  EXPECT_EQ(s.filters, expected);
}

TEST(ParseSubscribe, SameKeySameMeaningInBothPlacesIsAccepted) {
  for (
      const char* s : {
          R"({"type":"subscribe","channel":"telemetry","device_id":1,"filters":{"device_id":1}})",
          R"({"type":"subscribe","channel":"telemetry","device_id":1,"filters":{"device_id":[1]}})",
          R"({"type":"subscribe","channel":"telemetry","device_id":[1,1],"filters":{"device_id":1}})",
      }) {
    EXPECT_EQ(subscribe_ok(s).filters.device_ids, std::vector<std::int64_t>{1}) << s;
  }
  EXPECT_EQ(
      subscribe_ok(
          R"({"type":"subscribe","channel":"system","frequency":"60s","filters":{"frequency":"1m"}})")
          .filters.frequency,
      milliseconds{60000});
  EXPECT_EQ(
      subscribe_ok(
          R"({"type":"subscribe","channel":"alerts","severity":"info","filters":{"severity":["info"]}})")
          .filters.severities,
      std::vector<Severity>{Severity::info});
  EXPECT_EQ(
      subscribe_ok(
          R"({"type":"subscribe","channel":"telemetry","metrics":["b","a"],"filters":{"metrics":["a","b"]}})")
          .filters.metrics,
      (std::vector<std::string>{"a", "b"}));
}

TEST(ParseSubscribe, ConflictsAreInvalidFilter) {
  struct Case {
    const char* channel;
    const char* key;
    const char* top;
    const char* nested;
  };
  for (const auto& c : std::vector<Case>{
           {"telemetry", "device_id", "1", "2"},
           {"telemetry", "device_id", "[1,2]", "[1]"},
           {"telemetry", "metrics", R"(["a"])", R"(["b"])"},
           {"telemetry", "frequency", R"("real-time")", R"("1s")"},
           {"alerts", "device_id", "1", "[1,2]"},
           {"alerts", "severity", R"("critical")", R"("warning")"},
           {"alerts", "alert_type", R"("threshold")", R"(["threshold","anomaly"])"},
           {"devices", "device_id", "3", "4"},
           {"devices", "status_types", R"(["online"])", R"(["offline"])"},
           {"system", "metrics", R"(["cpu_usage"])", R"(["disk_usage"])"},
           {"system", "frequency", R"("30s")", R"("1m")"},
       }) {
    const std::string text = R"({"type":"subscribe","channel":")" + std::string(c.channel) +
                             R"(",")" + c.key + R"(":)" + c.top + R"(,"filters":{")" + c.key +
                             R"(":)" + c.nested + "}}";
    const auto e = parse_err(text);
    EXPECT_EQ(e.code, ErrorCode::invalid_filter) << text;
    EXPECT_NE(e.message.find("'" + std::string(c.key) + "'"), std::string::npos) << e.message;
  }
}

TEST(ParseSubscribe, InvalidValueNestedIsReportedEvenWithValidTopLevel) {
  const auto e = parse_err(
      R"({"type":"subscribe","channel":"telemetry","device_id":1,"filters":{"device_id":"x"}})");
  EXPECT_EQ(e.code, ErrorCode::invalid_filter);
}

TEST(ParseSubscribe, ErrorMessagesNameTheKey) {
  const auto e = parse_err(top_level("telemetry", "device_id", "\"one\""));
  EXPECT_EQ(e.message.rfind("invalid filter 'device_id'", 0), 0u) << e.message;
}

// ---- unsubscribe ----------------------------------------------------------------------------

TEST(ParseUnsubscribe, ChannelAndOptionalDevice) {
  auto r = parse_ok(R"({"type":"unsubscribe","channel":"telemetry","device_id":1})");
  const auto& u = std::get<UnsubscribeRequest>(r.body);
  EXPECT_EQ(u.channel, Channel::telemetry);
  EXPECT_EQ(u.device_id, 1);

  r = parse_ok(R"({"type":"unsubscribe","channel":"system"})");
  const auto& all = std::get<UnsubscribeRequest>(r.body);
  EXPECT_EQ(all.channel, Channel::system);
  EXPECT_FALSE(all.device_id);
}

TEST(ParseUnsubscribe, EveryChannel) {
  for (auto c : {Channel::telemetry, Channel::alerts, Channel::devices, Channel::system}) {
    auto r = parse_ok(R"({"type":"unsubscribe","channel":")" + std::string(model::to_string(c)) + R"("})");
    EXPECT_EQ(std::get<UnsubscribeRequest>(r.body).channel, c);
  }
}

TEST(ParseUnsubscribe, Errors) {
  EXPECT_EQ(parse_err(R"({"type":"unsubscribe"})").code, ErrorCode::invalid_message);
  EXPECT_EQ(parse_err(R"({"type":"unsubscribe","channel":5})").code, ErrorCode::invalid_message);
  EXPECT_EQ(parse_err(R"({"type":"unsubscribe","channel":"x"})").code, ErrorCode::unknown_channel);
  for (const char* v : {"0", "-3", "1.0", "\"1\"", "[1]", "null"}) {
    const auto e = parse_err(R"({"type":"unsubscribe","channel":"alerts","device_id":)" +
                             std::string(v) + "}");
    EXPECT_EQ(e.code, ErrorCode::invalid_filter) << v;
    EXPECT_NE(e.message.find("'device_id'"), std::string::npos);
  }
}

// ---- ping -----------------------------------------------------------------------------------

TEST(ParsePing, TimestampIsKeptVerbatim) {
  auto r = parse_ok(R"({"type":"ping","timestamp":"2024-01-01T12:00:00Z"})");
  const auto& p = std::get<PingRequest>(r.body);
  ASSERT_TRUE(p.timestamp);
  EXPECT_EQ(*p.timestamp, json::value("2024-01-01T12:00:00Z"));

  r = parse_ok(R"({"type":"ping","timestamp":{"a":[1,2]}})");
  EXPECT_EQ(*std::get<PingRequest>(r.body).timestamp, json::parse(R"({"a":[1,2]})"));

  r = parse_ok(R"({"type":"ping","timestamp":null})");
  ASSERT_TRUE(std::get<PingRequest>(r.body).timestamp);
  EXPECT_TRUE(std::get<PingRequest>(r.body).timestamp->is_null());
}

TEST(ParsePing, WithoutTimestamp) {
  auto r = parse_ok(R"({"type":"ping"})");
  EXPECT_FALSE(std::get<PingRequest>(r.body).timestamp);
}

// ---- batch ----------------------------------------------------------------------------------

std::string batch_of(std::size_t n, const std::string& element = R"({"type":"ping"})") {
  std::string s = R"({"type":"batch","messages":[)";
  for (std::size_t i = 0; i < n; ++i) {
    if (i) s += ',';
    s += element;
  }
  return s + "]}";
}

TEST(ParseBatch, KeepsMessagesInOrder) {
  auto r = parse_ok(
      R"({"type":"batch","id":1,"messages":[{"type":"ping","id":"a"},{"type":"subscribe","channel":"alerts"},{"type":"nope"}]})");
  const auto& b = std::get<BatchRequest>(r.body);
  ASSERT_EQ(b.messages.size(), 3u);
  EXPECT_EQ(b.messages[0], json::parse(R"({"type":"ping","id":"a"})"));
  EXPECT_EQ(b.messages[2], json::parse(R"({"type":"nope"})"));
  // Each element parses on its own when executed, with its own id and its own errors.
  auto first = parse_request_value(b.messages[0], kOpts);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first->id, json::value("a"));
  auto third = parse_request_value(b.messages[2], kOpts);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, ErrorCode::unknown_type);
}

TEST(ParseBatch, EmptyBatch) {
  auto r = parse_ok(R"({"type":"batch","messages":[]})");
  EXPECT_TRUE(std::get<BatchRequest>(r.body).messages.empty());
}

TEST(ParseBatch, FiftyIsTheDefaultLimit) {
  auto r = parse_ok(batch_of(50));
  EXPECT_EQ(std::get<BatchRequest>(r.body).messages.size(), 50u);
  const auto e = parse_err(batch_of(51));
  EXPECT_EQ(e.code, ErrorCode::batch_too_large);
  EXPECT_NE(e.message.find("51"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("50"), std::string::npos) << e.message;
}

TEST(ParseBatch, LimitFromOptions) {
  ParseOptions opts;
  opts.max_batch = 3;
  parse_ok(batch_of(3), opts);
  EXPECT_EQ(parse_err(batch_of(4), opts).code, ErrorCode::batch_too_large);
}

TEST(ParseBatch, NestedBatchRejectsTheWholeBatch) {
  const auto e = parse_err(
      R"({"type":"batch","id":9,"messages":[{"type":"ping"},{"type":"batch","messages":[]}]})");
  EXPECT_EQ(e.code, ErrorCode::nested_batch);
  EXPECT_EQ(*e.id, json::value(9));
}

TEST(ParseBatch, OversizedWinsOverNested) {
  // Too many is detected without looking inside.
  EXPECT_EQ(parse_err(batch_of(51, R"({"type":"batch","messages":[]})")).code,
            ErrorCode::batch_too_large);
}

TEST(ParseBatch, MalformedElementsAreKeptForTheirOwnErrors) {
  auto r = parse_ok(R"({"type":"batch","messages":[1,"x",null,{"type":5}]})");
  const auto& b = std::get<BatchRequest>(r.body);
  ASSERT_EQ(b.messages.size(), 4u);
  EXPECT_EQ(parse_request_value(b.messages[0], kOpts).error().code, ErrorCode::invalid_json);
  EXPECT_EQ(parse_request_value(b.messages[3], kOpts).error().code, ErrorCode::invalid_message);
}

TEST(ParseBatch, MessagesMissingOrNotAnArray) {
  for (const char* s :
       {R"({"type":"batch"})", R"({"type":"batch","messages":{}})",
        R"({"type":"batch","messages":"x"})", R"({"type":"batch","messages":null})"}) {
    const auto e = parse_err(s);
    EXPECT_EQ(e.code, ErrorCode::invalid_message) << s;
    EXPECT_NE(e.message.find("'messages'"), std::string::npos);
  }
}

TEST(IsBatchFrame, DetectsBatchOnly) {
  EXPECT_TRUE(is_batch_frame(R"({"type":"batch","messages":[]})"));
  EXPECT_TRUE(is_batch_frame(R"( {"messages":[],"type":"batch"} )"));
  EXPECT_FALSE(is_batch_frame(R"({"type":"ping"})"));
  EXPECT_FALSE(is_batch_frame(R"({"type":"batch")"));
  EXPECT_FALSE(is_batch_frame(R"(["batch"])"));
  EXPECT_FALSE(is_batch_frame(R"({"messages":[{"type":"batch"}]})"));
  EXPECT_FALSE(is_batch_frame(R"({"note":"\"type\":\"batch\""})"));
  EXPECT_FALSE(is_batch_frame(""));
}

}  // namespace
}  // namespace valtronics::protocol
