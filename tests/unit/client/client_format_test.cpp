// The readable lines of `valtronics listen`: one per message type, event time first.
#include "client/format.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace valtronics::client {
namespace {

std::string line(const char* json) {
  return format_line(boost::json::parse(json).as_object(), "09:00:00.000");
}

TEST(ClientFormat, Telemetry) {
  EXPECT_EQ(line(R"({"type":"telemetry_update","channel":"telemetry","device_id":1,
      "telemetry":{"temperature":{"value":21.5,"unit":"°C","timestamp":"2026-01-01T12:00:01.234Z"},
                   "humidity":{"value":40,"unit":"%","timestamp":"2026-01-01T12:00:01.234Z"},
                   "aqi":{"value":12,"timestamp":"2026-01-01T12:00:01.234Z"}},"seq":3})"),
            "12:00:01.234 telemetry device 1 temperature=21.5°C humidity=40% aqi=12");
  EXPECT_EQ(line(R"({"type":"telemetry_update","device_id":2,
      "telemetry":{"t":{"value":1.25}},"seq":9,"conflated":4})"),
            "09:00:00.000 telemetry device 2 t=1.25 (conflated 4)");
}

// Extensions (issue 15): a crossing, a window's aggregate, telemetry_stale, a partial subscribe.
TEST(ClientFormat, Extensions) {
  EXPECT_EQ(line(R"({"type":"telemetry_update","device_id":3,
      "telemetry":{"t":{"value":30.5,"timestamp":"2026-01-01T12:00:01.000Z"}},
      "crossed":{"t":"up"},"seq":2})"),
            "12:00:01.000 telemetry device 3 t=30.5 (t crossed up)");
  EXPECT_EQ(line(R"({"type":"telemetry_update","device_id":1,
      "telemetry":{"t":{"value":21.25,"timestamp":"2026-01-01T12:00:09.500Z"}},
      "aggregate":"avg","window":"10s","count":{"t":20},"seq":5})"),
            "12:00:09.500 telemetry device 1 t=21.25 (avg over 10s t:20)");
  EXPECT_EQ(line(R"({"type":"telemetry_stale","channel":"telemetry","device_id":1,"metric":"t",
      "stale_after":"2m","last_seen":null,"timestamp":"2026-01-01T12:02:00.000Z","seq":6})"),
            "12:02:00.000 stale device 1 t: nothing for 2m, last seen null");
  EXPECT_EQ(line(R"({"type":"subscribed","channel":"telemetry","filters":{"device_id":[1]},
      "forbidden":[7,8],"id":1})"),
            "09:00:00.000 subscribed telemetry device_id=1 forbidden=7,8");
}

TEST(ClientFormat, AlertDeviceSystem) {
  EXPECT_EQ(line(R"({"type":"alert","channel":"alerts","alert_id":42,"device_id":3,
      "severity":"critical","alert_type":"threshold","title":"High Temperature Alert",
      "message":"temperature 41 °C exceeds critical threshold 40","status":"active",
      "timestamp":"2026-01-01T12:00:02.000Z","metadata":{},"seq":1})"),
            "12:00:02.000 alert #42 critical device 3 High Temperature Alert: temperature 41 °C "
            "exceeds critical threshold 40 [active]");
  EXPECT_EQ(line(R"({"type":"device_status_update","device_id":3,"old_status":"online",
      "new_status":"offline","timestamp":"2026-01-01T12:00:03.000Z","reason":"Connection lost"})"),
            "12:00:03.000 device 3 online -> offline (Connection lost)");
  EXPECT_EQ(line(R"({"type":"system_status_update","metrics":{"cpu_usage":12.5,
      "active_connections":3},"timestamp":"2026-01-01T12:00:04.000Z"})"),
            "12:00:04.000 system cpu_usage=12.5% active_connections=3");
}

TEST(ClientFormat, RepliesAndOthers) {
  EXPECT_EQ(line(R"({"type":"subscribed","channel":"telemetry",
      "filters":{"device_id":[1,2],"metrics":["temperature"]},"id":1})"),
            "09:00:00.000 subscribed telemetry device_id=1,2 metrics=temperature");
  EXPECT_EQ(line(R"({"type":"subscribed","channel":"alerts","filters":{"since_alert_id":5},
      "recovered":true})"),
            "09:00:00.000 subscribed alerts since_alert_id=5 recovered=true");
  EXPECT_EQ(line(R"({"type":"unsubscribed","channel":"telemetry","device_id":1,"removed":1})"),
            "09:00:00.000 unsubscribed telemetry device 1 removed=1");
  EXPECT_EQ(line(R"({"type":"error","error":"forbidden","message":"device 9 not covered"})"),
            "09:00:00.000 error forbidden: device 9 not covered");
  EXPECT_EQ(line(R"({"type":"auth_response","success":true,"user":"alice","role":"admin",
      "expires_at":"2026-01-01T13:00:00.000Z"})"),
            "09:00:00.000 authenticated as alice (admin), token expires 2026-01-01T13:00:00.000Z");
  EXPECT_EQ(line(R"({"type":"auth_response","success":false,"error":"token_expired",
      "message":"token expired"})"),
            "09:00:00.000 authentication failed: token_expired: token expired");
  EXPECT_EQ(line(R"({"type":"token_expiring","expires_at":"2026-01-01T13:00:00.000Z"})"),
            "09:00:00.000 token expiring at 2026-01-01T13:00:00.000Z");
  EXPECT_EQ(line(R"({"type":"surprise","x":1})"), R"(09:00:00.000 surprise {"type":"surprise","x":1})");
}

TEST(ClientFormat, Times) {
  auto t = std::chrono::system_clock::time_point{} + std::chrono::milliseconds(1'767'268'801'234);
  EXPECT_EQ(clock_time(t), "12:00:01.234");
  EXPECT_EQ(iso8601(t), "2026-01-01T12:00:01.234Z");
  EXPECT_EQ(value_text(boost::json::value(2.5e-7)), "2.5e-07");
  EXPECT_EQ(value_text(boost::json::value(1013.25)), "1013.25");
}

}  // namespace
}  // namespace valtronics::client
