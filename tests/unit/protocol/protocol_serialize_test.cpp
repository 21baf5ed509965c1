// Unit tests of protocol/serialize: each frame's exact fields and values, the spec's key order for
// updates, id echo, projections, escaping and non-finite numbers.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "protocol/parse.hpp"
#include "protocol/serialize.hpp"

namespace valtronics::protocol {
namespace {

namespace json = boost::json;
using namespace std::chrono;
using model::AlertStatus;
using model::AlertType;
using model::Channel;
using model::DeviceStatus;
using model::Severity;

util::TimePoint t0() { return sys_days{year{2024} / 1 / 1} + hours{12}; }
const char* kT0 = "2024-01-01T12:00:00.000Z";

// Parses a frame; fails the test if it is not valid JSON (validating UTF-8 as browsers do).
json::object parsed(const std::string& frame) {
  boost::system::error_code ec;
  auto v = json::parse(frame, ec);
  EXPECT_FALSE(ec) << frame;
  EXPECT_TRUE(v.is_object()) << frame;
  return v.is_object() ? v.get_object() : json::object{};
}

std::vector<std::string> keys(const json::object& o) {
  std::vector<std::string> k;
  for (const auto& kv : o) k.emplace_back(kv.key());
  return k;
}

using Keys = std::vector<std::string>;

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : "<not a string: " + json::serialize(v) + ">";
}

// ---- replies --------------------------------------------------------------------------------

TEST(SerializeAuth, Success) {
  const auto o = parsed(auth_success(json::value(3), "alice", "user", t0() + hours{1}));
  EXPECT_EQ(keys(o), (Keys{"type", "success", "message", "user", "role", "expires_at", "id"}));
  EXPECT_EQ(o.at("type"), "auth_response");
  EXPECT_EQ(o.at("success"), true);
  EXPECT_TRUE(o.at("message").is_string());
  EXPECT_EQ(o.at("user"), "alice");
  EXPECT_EQ(o.at("role"), "user");
  EXPECT_EQ(o.at("expires_at"), "2024-01-01T13:00:00.000Z");
  EXPECT_EQ(o.at("id"), 3);
}

TEST(SerializeAuth, SuccessWithoutExpiryOrId) {
  const auto o = parsed(auth_success(std::nullopt, "dev-1", "device", std::nullopt));
  EXPECT_EQ(keys(o), (Keys{"type", "success", "message", "user", "role"}));
}

TEST(SerializeAuth, Failure) {
  const auto o = parsed(auth_failure(json::value("x"), ErrorCode::invalid_token, "bad signature"));
  EXPECT_EQ(keys(o), (Keys{"type", "success", "error", "message", "id"}));
  EXPECT_EQ(o.at("type"), "auth_response");
  EXPECT_EQ(o.at("success"), false);
  EXPECT_EQ(o.at("error"), "invalid_token");
  EXPECT_EQ(o.at("message"), "bad signature");
  EXPECT_EQ(o.at("id"), "x");
}

TEST(SerializeAuth, FailureCodes) {
  for (auto c :
       {ErrorCode::missing_token, ErrorCode::token_expired, ErrorCode::token_not_yet_valid}) {
    const auto o = parsed(auth_failure(std::nullopt, c, "m"));
    EXPECT_EQ(str(o.at("error")), to_string(c));
    EXPECT_FALSE(o.contains("id"));
  }
}

TEST(SerializeSubscribed, TelemetryWithEveryFilter) {
  Filters f;
  f.device_ids = {1, 2};
  f.metrics = {"humidity", "temperature"};
  f.frequency = milliseconds{500};
  const auto o = parsed(subscribed(json::value(5), Channel::telemetry, f));
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "filters", "id"}));
  EXPECT_EQ(o.at("type"), "subscribed");
  EXPECT_EQ(o.at("channel"), "telemetry");
  EXPECT_EQ(o.at("filters"),
            json::parse(
                R"({"device_id":[1,2],"metrics":["humidity","temperature"],"frequency":"500ms"})"));
  EXPECT_EQ(o.at("id"), 5);
}

TEST(SerializeSubscribed, TelemetryRealTimeAndNoOtherKeys) {
  const auto o = parsed(subscribed(std::nullopt, Channel::telemetry, Filters{}));
  EXPECT_EQ(o.at("filters"), json::parse(R"({"frequency":"real-time"})"));
  EXPECT_FALSE(o.contains("id"));
}

TEST(SerializeSubscribed, Alerts) {
  Filters f;
  f.device_ids = {7};
  f.severities = {Severity::warning, Severity::critical};
  f.alert_types = {AlertType::threshold};
  const auto o = parsed(subscribed(std::nullopt, Channel::alerts, f));
  EXPECT_EQ(
      o.at("filters"),
      json::parse(
          R"({"device_id":[7],"severity":["critical","warning"],"alert_type":["threshold"]})"));
  EXPECT_EQ(parsed(subscribed(std::nullopt, Channel::alerts, Filters{})).at("filters"),
            json::object{});
}

TEST(SerializeSubscribed, AlertsRecoveredAndLastAlertId) {
  // `recovered` (replays) and `last_alert_id` (every alerts subscription) stand after
  // `filters`, outside it: sending the filters back never carries them.
  Filters f;
  f.since_alert_id = 4;
  auto o = parsed(subscribed(json::value("r"), Channel::alerts, f, true, 12));
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "filters", "recovered", "last_alert_id", "id"}));
  EXPECT_EQ(o.at("filters"), json::parse(R"({"since_alert_id":4})"));
  EXPECT_EQ(o.at("recovered"), true);
  EXPECT_EQ(o.at("last_alert_id"), 12);
  o = parsed(subscribed(std::nullopt, Channel::alerts, Filters{}, std::nullopt, 0));
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "filters", "last_alert_id"}));
  EXPECT_EQ(o.at("last_alert_id"), 0);
  EXPECT_FALSE(parsed(subscribed(std::nullopt, Channel::telemetry, Filters{})).contains("last_alert_id"));
}

TEST(SerializeSubscribed, Devices) {
  Filters f;
  f.device_ids = {1, 2, 3};
  f.status_types = {DeviceStatus::online, DeviceStatus::offline};
  const auto o = parsed(subscribed(std::nullopt, Channel::devices, f));
  EXPECT_EQ(o.at("filters"),
            json::parse(R"({"device_id":[1,2,3],"status_types":["offline","online"]})"));
}

// Filters hold enums in value order; the reply lists them by name, as it did when they were
// sorted strings.
TEST(SerializeSubscribed, EnumListsAreInNameOrder) {
  Filters f;
  f.severities = {Severity::info, Severity::warning, Severity::critical};
  f.alert_types = {AlertType::threshold, AlertType::anomaly, AlertType::device, AlertType::system,
                   AlertType::manual};
  EXPECT_EQ(parsed(subscribed(std::nullopt, Channel::alerts, f)).at("filters"),
            json::parse(R"({"severity":["critical","info","warning"],)"
                        R"("alert_type":["anomaly","device","manual","system","threshold"]})"));
  Filters d;
  d.status_types = {DeviceStatus::online, DeviceStatus::offline, DeviceStatus::warning,
                    DeviceStatus::error, DeviceStatus::maintenance};
  EXPECT_EQ(parsed(subscribed(std::nullopt, Channel::devices, d)).at("filters"),
            json::parse(R"({"status_types":["error","maintenance","offline","online","warning"]})"));
}

TEST(SerializeSubscribed, SystemAlwaysShowsItsFrequency) {
  Filters f;
  f.metrics = {"cpu_usage"};
  f.frequency = milliseconds{30000};
  EXPECT_EQ(parsed(subscribed(std::nullopt, Channel::system, f)).at("filters"),
            json::parse(R"({"metrics":["cpu_usage"],"frequency":"30s"})"));
}

TEST(SerializeSubscribed, RoundTripsThroughParse) {
  // The normalized filters of a reply, sent back as a subscribe, mean the same thing.
  const ParseOptions opts;
  for (
      const char* s : {
          R"({"type":"subscribe","channel":"telemetry","device_id":[3,1],"metrics":["b","a"],"frequency":"1000ms"})",
          R"({"type":"subscribe","channel":"alerts","severity":"critical","alert_type":["anomaly"],"device_id":2})",
          R"({"type":"subscribe","channel":"devices","status_types":"online","device_id":[5]})",
          R"({"type":"subscribe","channel":"system","metrics":["cpu_usage"]})",
      }) {
    auto first = parse_request(s, opts);
    ASSERT_TRUE(first) << s;
    const auto& sub = std::get<SubscribeRequest>(first->body);
    auto reply = parsed(subscribed(std::nullopt, sub.channel, sub.filters));
    json::object again{
        {"type", "subscribe"}, {"channel", reply.at("channel")}, {"filters", reply.at("filters")}};
    auto second = parse_request(json::serialize(again), opts);
    ASSERT_TRUE(second) << json::serialize(again);
    EXPECT_EQ(std::get<SubscribeRequest>(second->body).filters, sub.filters) << s;
  }
}

TEST(SerializeUnsubscribed, WithAndWithoutDevice) {
  auto o = parsed(unsubscribed(json::value(1), Channel::telemetry, 4, 1));
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "device_id", "removed", "id"}));
  EXPECT_EQ(o.at("type"), "unsubscribed");
  EXPECT_EQ(o.at("channel"), "telemetry");
  EXPECT_EQ(o.at("device_id"), 4);
  EXPECT_EQ(o.at("removed"), 1);
  o = parsed(unsubscribed(std::nullopt, Channel::alerts, std::nullopt, 3));
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "removed"}));
  EXPECT_EQ(o.at("removed"), 3);
}

TEST(SerializePong, EchoesTimestampAndAddsServerTime) {
  const auto o = parsed(pong(json::value(2), json::value("2024-01-01T12:00:00Z"), t0()));
  EXPECT_EQ(keys(o), (Keys{"type", "timestamp", "server_time", "id"}));
  EXPECT_EQ(o.at("type"), "pong");
  EXPECT_EQ(o.at("timestamp"), "2024-01-01T12:00:00Z");
  EXPECT_EQ(o.at("server_time"), kT0);
  EXPECT_EQ(o.at("id"), 2);
}

TEST(SerializePong, NullWithoutTimestampAndAnyValueEchoed) {
  EXPECT_TRUE(parsed(pong(std::nullopt, std::nullopt, t0())).at("timestamp").is_null());
  const auto v = json::parse(R"({"a":[1,"x",{"b":null}],"n":1704110400})");
  EXPECT_EQ(parsed(pong(std::nullopt, v, t0())).at("timestamp"), v);
}

TEST(SerializePong, InfinityFromTheClientBecomesNull) {
  // 1e400 parses as infinity; echoing it as-is would not be JSON.
  const auto v = json::parse(R"({"a":1e400,"b":[-1e400]})");
  const auto frame = pong(std::nullopt, v, t0());
  const auto o = parsed(frame);
  EXPECT_EQ(o.at("timestamp"), json::parse(R"({"a":null,"b":[null]})")) << frame;
}

TEST(SerializePong, NumbersArePlain) {
  const auto v = json::parse(R"({"t":1704110400.0,"f":0.25,"e":1e21})");
  EXPECT_EQ(pong(json::value(1.0), v, t0()),
            R"({"type":"pong","timestamp":{"t":1704110400,"f":0.25,"e":1e+21},)"
            R"("server_time":"2024-01-01T12:00:00.000Z","id":1})");
}

TEST(SerializeError, Fields) {
  const auto o = parsed(error(json::value("req-1"), ErrorCode::unknown_filter,
                              "unknown filter 'foo' for channel telemetry"));
  EXPECT_EQ(keys(o), (Keys{"type", "error", "message", "id"}));
  EXPECT_EQ(o.at("type"), "error");
  EXPECT_EQ(o.at("error"), "unknown_filter");
  EXPECT_EQ(o.at("message"), "unknown filter 'foo' for channel telemetry");
  EXPECT_EQ(o.at("id"), "req-1");
  EXPECT_FALSE(parsed(error(std::nullopt, ErrorCode::invalid_json, "x")).contains("id"));
}

TEST(SerializeError, EscapesMessages) {
  const std::string msg = "quote \" backslash \\ newline \n tab \t ctrl \x01 unicode \xc2\xb0";
  const auto frame = error(std::nullopt, ErrorCode::invalid_message, msg);
  EXPECT_EQ(str(parsed(frame).at("message")), msg);
}

TEST(SerializeError, EveryCodeUsesItsWireName) {
  for (const auto& e : error_catalogue()) {
    EXPECT_EQ(str(parsed(error(std::nullopt, e.code, "m")).at("error")), e.name);
  }
}

TEST(SerializeError, AboutOneSubscription) {
  // A token refresh removed a subscription: which one, machine-readable.
  auto o = parsed(subscription_error(ErrorCode::forbidden, "removed", Channel::telemetry, 5));
  EXPECT_EQ(keys(o), (Keys{"type", "error", "message", "channel", "device_id"}));
  EXPECT_EQ(o.at("type"), "error");
  EXPECT_EQ(o.at("error"), "forbidden");
  EXPECT_EQ(o.at("message"), "removed");
  EXPECT_EQ(o.at("channel"), "telemetry");
  EXPECT_EQ(o.at("device_id"), 5);
  // The subscription to every device: device_id is null (present, so a client can key on it).
  o = parsed(subscription_error(ErrorCode::forbidden, "removed", Channel::system, std::nullopt));
  EXPECT_EQ(keys(o), (Keys{"type", "error", "message", "channel", "device_id"}));
  EXPECT_EQ(o.at("channel"), "system");
  EXPECT_TRUE(o.at("device_id").is_null());
}

TEST(SerializeTokenExpiring, Fields) {
  const auto o = parsed(token_expiring(t0()));
  EXPECT_EQ(keys(o), (Keys{"type", "expires_at"}));
  EXPECT_EQ(o.at("type"), "token_expiring");
  EXPECT_EQ(o.at("expires_at"), kT0);
}

// ---- updates --------------------------------------------------------------------------------

std::vector<model::MetricReading> readings() {
  return {{"temperature", 23.5,
           "\xc2\xb0"
           "C",
           t0()},
          {"humidity", 45.2, "%", t0() + milliseconds{1}},
          {"count", 3, "", t0()}};
}

TEST(SerializeTelemetry, SpecFields) {
  const auto frame = serialize_event(model::TelemetryEvent{1, readings()});
  const auto o = parsed(frame);
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "device_id", "telemetry"}));
  EXPECT_EQ(o.at("type"), "telemetry_update");
  EXPECT_EQ(o.at("channel"), "telemetry");
  EXPECT_EQ(o.at("device_id"), 1);
  const auto& t = o.at("telemetry").as_object();
  EXPECT_EQ(keys(t), (Keys{"temperature", "humidity", "count"}));
  EXPECT_EQ(keys(t.at("temperature").as_object()), (Keys{"value", "unit", "timestamp"}));
  EXPECT_EQ(t.at("temperature").at("value"), 23.5);
  EXPECT_EQ(t.at("temperature").at("unit"),
            "\xc2\xb0"
            "C");
  EXPECT_EQ(t.at("temperature").at("timestamp"), kT0);
  EXPECT_EQ(t.at("humidity").at("value"), 45.2);
  EXPECT_EQ(t.at("humidity").at("unit"), "%");
  EXPECT_EQ(t.at("humidity").at("timestamp"), "2024-01-01T12:00:00.001Z");
}

TEST(SerializeTelemetry, EmptyUnitIsOmitted) {
  const auto o = parsed(serialize_telemetry(1, readings()));
  const auto& c = o.at("telemetry").at("count").as_object();
  EXPECT_EQ(keys(c), (Keys{"value", "timestamp"}));
  EXPECT_EQ(c.at("value"), 3);
}

TEST(SerializeTelemetry, Projection) {
  const auto r = readings();
  const std::vector<std::string> only{"humidity", "pressure"};
  const auto o = parsed(serialize_telemetry(9, r, only));
  EXPECT_EQ(o.at("device_id"), 9);
  EXPECT_EQ(keys(o.at("telemetry").as_object()), (Keys{"humidity"}));
}

TEST(SerializeTelemetry, NothingWantedGivesEmptyString) {
  const std::vector<std::string> only{"pressure"};
  EXPECT_EQ(serialize_telemetry(1, readings(), only), "");
  EXPECT_EQ(serialize_telemetry(1, {}), "");
}

TEST(SerializeTelemetry, RepeatedMetricKeepsTheLaterReading) {
  const std::vector<model::MetricReading> r{{"t", 1, "", t0()}, {"t", 2, "", t0() + seconds{1}}};
  const auto o = parsed(serialize_telemetry(1, r));
  EXPECT_EQ(o.at("telemetry").at("t").at("value"), 2);
}

TEST(SerializeTelemetry, ExactTextHasPlainNumbers) {
  // Numbers as a client expects them: "23.5" and "3", never Boost.JSON 1.81's "2.35E1" / "3E0".
  EXPECT_EQ(serialize_telemetry(1, readings()),
            R"({"type":"telemetry_update","channel":"telemetry","device_id":1,"telemetry":{)"
            R"("temperature":{"value":23.5,"unit":")"
            "\xc2\xb0"
            R"(C","timestamp":"2024-01-01T12:00:00.000Z"},)"
            R"("humidity":{"value":45.2,"unit":"%","timestamp":"2024-01-01T12:00:00.001Z"},)"
            R"("count":{"value":3,"timestamp":"2024-01-01T12:00:00.000Z"}}})");
}

TEST(SerializeTelemetry, RepeatedMetricsAmongManyReadings) {
  // Past the small-event fast path: a name keeps its first position and its last value.
  std::vector<model::MetricReading> r;
  for (int i = 0; i < 40; ++i) {
    r.push_back({"m" + std::to_string(i % 10), static_cast<double>(i), i % 2 ? "u" : "", t0()});
  }
  const std::vector<std::string> only{"m1", "m3", "m4"};
  for (auto projection : {std::span<const std::string>{}, std::span<const std::string>(only)}) {
    const auto frame = serialize_telemetry(1, r, projection);
    const auto o = parsed(frame);
    const auto& t = o.at("telemetry").as_object();
    const Keys all{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"};
    EXPECT_EQ(keys(t), projection.empty() ? all : Keys(only.begin(), only.end())) << frame;
    for (const auto& kv : t) {
      const int last = 30 + (kv.key().back() - '0');
      EXPECT_EQ(kv.value().at("value"), last) << frame;
      EXPECT_EQ(kv.value().as_object().contains("unit"), last % 2 == 1) << frame;
    }
  }
}

TEST(SerializeTelemetry, NonFiniteValueIsNull) {
  const std::vector<model::MetricReading> r{{"a", std::nan(""), "", t0()},
                                          {"b", std::numeric_limits<double>::infinity(), "", t0()}};
  const auto o = parsed(serialize_telemetry(1, r));
  EXPECT_TRUE(o.at("telemetry").at("a").at("value").is_null());
  EXPECT_TRUE(o.at("telemetry").at("b").at("value").is_null());
}

TEST(SerializeTelemetry, LargeDeviceId) {
  const std::vector<model::MetricReading> r{{"a", 1, "", t0()}};
  EXPECT_EQ(parsed(serialize_telemetry(9223372036854775807LL, r)).at("device_id"),
            9223372036854775807LL);
}

TEST(SerializeAlert, SpecFields) {
  model::AlertEvent a;
  a.alert_id = 123;
  a.device_id = 1;
  a.severity = Severity::critical;
  a.alert_type = AlertType::threshold;
  a.title = "High Temperature Alert";
  a.message = "Temperature exceeds safe threshold";
  a.timestamp = t0();
  a.metadata = {{"threshold_value", 30.0}, {"actual_value", 32.5}};
  const auto o = parsed(serialize_event(a));
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "alert_id", "device_id", "severity", "alert_type",
                           "title", "message", "status", "timestamp", "metadata"}));
  EXPECT_EQ(o.at("type"), "alert");
  EXPECT_EQ(o.at("channel"), "alerts");
  EXPECT_EQ(o.at("alert_id"), 123);
  EXPECT_EQ(o.at("device_id"), 1);
  EXPECT_EQ(o.at("severity"), "critical");
  EXPECT_EQ(o.at("alert_type"), "threshold");
  EXPECT_EQ(o.at("title"), "High Temperature Alert");
  EXPECT_EQ(o.at("message"), "Temperature exceeds safe threshold");
  EXPECT_EQ(o.at("status"), "active");
  EXPECT_EQ(o.at("timestamp"), kT0);
  EXPECT_EQ(o.at("metadata"), json::parse(R"({"threshold_value":30,"actual_value":32.5})"));
}

TEST(SerializeAlert, EmptyMetadataIsAnObjectAndTextIsEscaped) {
  model::AlertEvent a;
  a.alert_id = 1;
  a.device_id = 2;
  a.title = "</script>\"<b>";
  a.message = "line1\nline2";
  a.timestamp = t0();
  const auto o = parsed(serialize_event(a));
  EXPECT_EQ(o.at("metadata"), json::object{});
  EXPECT_EQ(o.at("title"), "</script>\"<b>");
  EXPECT_EQ(o.at("message"), "line1\nline2");
}

TEST(SerializeAlert, ExactText) {
  model::AlertEvent a;
  a.alert_id = 123;
  a.device_id = 1;
  a.severity = Severity::critical;
  a.alert_type = AlertType::threshold;
  a.title = "T \"x\"";
  a.message = "m";
  a.timestamp = t0();
  a.metadata = {{"threshold_value", 30.0}, {"actual_value", 32.5}, {"rule_id", 7}};
  EXPECT_EQ(serialize_event(a),
            R"({"type":"alert","channel":"alerts","alert_id":123,"device_id":1,)"
            R"("severity":"critical","alert_type":"threshold","title":"T \"x\"","message":"m",)"
            R"("status":"active","timestamp":"2024-01-01T12:00:00.000Z",)"
            R"("metadata":{"threshold_value":30,"actual_value":32.5,"rule_id":7}})");
}

TEST(SerializeDeviceStatus, SpecFields) {
  model::DeviceStatusEvent d;
  d.device_id = 1;
  d.old_status = DeviceStatus::online;
  d.new_status = DeviceStatus::offline;
  d.reason = "Connection lost";
  d.timestamp = t0();
  d.last_seen = t0() - minutes{15};
  const auto o = parsed(serialize_event(d));
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "device_id", "old_status", "new_status", "timestamp",
                           "reason", "metadata"}));
  EXPECT_EQ(o.at("type"), "device_status_update");
  EXPECT_EQ(o.at("channel"), "devices");
  EXPECT_EQ(o.at("device_id"), 1);
  EXPECT_EQ(o.at("old_status"), "online");
  EXPECT_EQ(o.at("new_status"), "offline");
  EXPECT_EQ(o.at("timestamp"), kT0);
  EXPECT_EQ(o.at("reason"), "Connection lost");
  EXPECT_EQ(o.at("metadata"), json::parse(R"({"last_seen":"2024-01-01T11:45:00.000Z"})"));
}

TEST(SerializeDeviceStatus, ExactText) {
  model::DeviceStatusEvent d;
  d.device_id = 1;
  d.old_status = DeviceStatus::online;
  d.new_status = DeviceStatus::offline;
  d.reason = "lost\n";
  d.timestamp = t0();
  EXPECT_EQ(serialize_event(d),
            R"({"type":"device_status_update","channel":"devices","device_id":1,)"
            R"("old_status":"online","new_status":"offline","timestamp":"2024-01-01T12:00:00.000Z",)"
            R"("reason":"lost\n","metadata":{}})");
  d.last_seen = t0() - minutes{15};
  EXPECT_NE(serialize_event(d)
                .find(R"("metadata":{"last_seen":"2024-01-01T11:45:00.000Z"}})"),
            std::string::npos);
}

TEST(SerializeDeviceStatus, NoLastSeenGivesEmptyMetadata) {
  model::DeviceStatusEvent d;
  d.device_id = 3;
  d.timestamp = t0();
  EXPECT_EQ(parsed(serialize_event(d)).at("metadata"), json::object{});
}

model::SystemEvent system_event() {
  return {{{"cpu_usage", 45.2},
           {"memory_usage", 67.8},
           {"disk_usage", 23.1},
           {"active_connections", 15}},
          t0()};
}

TEST(SerializeSystem, SpecFields) {
  const auto o = parsed(serialize_event(system_event()));
  EXPECT_EQ(keys(o), (Keys{"type", "channel", "metrics", "timestamp"}));
  EXPECT_EQ(o.at("type"), "system_status_update");
  EXPECT_EQ(o.at("channel"), "system");
  EXPECT_EQ(o.at("timestamp"), kT0);
  const auto& m = o.at("metrics").as_object();
  EXPECT_EQ(keys(m), (Keys{"cpu_usage", "memory_usage", "disk_usage", "active_connections"}));
  EXPECT_EQ(m.at("cpu_usage"), 45.2);
  EXPECT_EQ(m.at("active_connections"), 15);
}

TEST(SerializeSystem, ExactTextHasPlainNumbers) {
  EXPECT_EQ(serialize_system(system_event(), {}),
            R"({"type":"system_status_update","channel":"system","metrics":{"cpu_usage":45.2,)"
            R"("memory_usage":67.8,"disk_usage":23.1,"active_connections":15},)"
            R"("timestamp":"2024-01-01T12:00:00.000Z"})");
  model::SystemEvent e{{{"cpu_usage", 1.5}, {"cpu_usage", std::nan("")}, {"x", 2}}, t0()};
  EXPECT_EQ(serialize_system(e, {}),
            R"({"type":"system_status_update","channel":"system","metrics":{"cpu_usage":null,)"
            R"("x":2},"timestamp":"2024-01-01T12:00:00.000Z"})");
  EXPECT_EQ(serialize_system(e, std::vector<std::string>{"y"}),
            R"({"type":"system_status_update","channel":"system","metrics":{},)"
            R"("timestamp":"2024-01-01T12:00:00.000Z"})");
}

TEST(SerializeSystem, Projection) {
  const std::vector<std::string> only{"active_connections", "cpu_usage"};
  const auto o = parsed(serialize_system(system_event(), only));
  EXPECT_EQ(keys(o.at("metrics").as_object()), (Keys{"cpu_usage", "active_connections"}));
  EXPECT_EQ(serialize_system(system_event(), {}),
            serialize_event(system_event()));
}

TEST(SerializeEvent, TelemetryMatchesSerializeTelemetry) {
  const auto r = readings();
  EXPECT_EQ(serialize_event(model::TelemetryEvent{4, r}),
            serialize_telemetry(4, r));
}

// The channel of a frame is the body's.
TEST(SerializeEvent, ChannelIsTheBodys) {
  EXPECT_EQ(parsed(serialize_event(model::TelemetryEvent{4, readings()})).at("channel"),
            "telemetry");
  EXPECT_EQ(parsed(serialize_event(model::AlertEvent{})).at("channel"), "alerts");
  EXPECT_EQ(parsed(serialize_event(model::DeviceStatusEvent{})).at("channel"), "devices");
  EXPECT_EQ(parsed(serialize_event(system_event())).at("channel"), "system");
}

TEST(SerializeAlert, EveryStatusByName) {
  model::AlertEvent a;
  a.timestamp = t0();
  for (auto st : model::all_values<AlertStatus>()) {
    a.status = st;
    EXPECT_EQ(parsed(serialize_event(a)).at("status").as_string(), model::to_string(st));
  }
}

}  // namespace
}  // namespace valtronics::protocol
