// The --subscribe short form: channels, typed values, and errors naming the part at fault.
#include "client/subscribe_spec.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace valtronics::client {
namespace {

std::string filters(const char* text) {
  auto r = parse_subscribe_spec(text);
  EXPECT_TRUE(r) << text << ": " << r.error;
  return boost::json::serialize(r.spec.filters);
}

std::string error(const char* text) {
  auto r = parse_subscribe_spec(text);
  EXPECT_FALSE(r) << text;
  return r.error;
}

TEST(ClientSubscribeSpec, ChannelOnly) {
  auto r = parse_subscribe_spec("alerts");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.spec.channel, "alerts");
  EXPECT_TRUE(r.spec.filters.empty());
  EXPECT_EQ(filters("devices:"), "{}");
}

TEST(ClientSubscribeSpec, TypedValues) {
  EXPECT_EQ(filters("telemetry:device_id=1,2;metrics=temperature"),
            R"({"device_id":[1,2],"metrics":["temperature"]})");
  EXPECT_EQ(filters(" telemetry : device_id = 3 ; frequency = 5s ; snapshot=true ;"),
            R"({"device_id":[3],"frequency":"5s","snapshot":true})");
  EXPECT_EQ(filters("alerts:severity=critical,warning;since_alert_id=0;alert_type=threshold"),
            R"({"severity":["critical","warning"],"since_alert_id":0,"alert_type":["threshold"]})");
  EXPECT_EQ(filters("devices:status_types=offline,error;snapshot=false"),
            R"({"status_types":["offline","error"],"snapshot":false})");
  EXPECT_EQ(filters("system:metrics=cpu_usage;frequency=1s"),
            R"({"metrics":["cpu_usage"],"frequency":"1s"})");
}

// Extensions (issue 15): a number or METRIC:NUMBER pairs, durations and names as text.
TEST(ClientSubscribeSpec, Extensions) {
  EXPECT_EQ(filters("telemetry:device_id=1;deadband=0.5;max_silence=5m"),
            R"({"device_id":[1],"deadband":5E-1,"max_silence":"5m"})");
  EXPECT_EQ(filters("telemetry:deadband=temperature:0.5,*:2;deadband_pct=humidity:10"),
            R"({"deadband":{"temperature":5E-1,"*":2E0},"deadband_pct":{"humidity":1E1}})");
  EXPECT_EQ(filters("telemetry:crossing=t:-5;direction=down;stale_after=2m"),
            R"({"crossing":{"t":-5E0},"direction":"down","stale_after":"2m"})");
  EXPECT_EQ(filters("telemetry:frequency=10s;aggregate=avg"),
            R"({"frequency":"10s","aggregate":"avg"})");
  EXPECT_EQ(error("telemetry:deadband=lots"), "deadband: 'lots' is not a number");
  EXPECT_EQ(error("telemetry:crossing=t:high"), "crossing: 't:high' is not METRIC:NUMBER");
  EXPECT_NE(error("alerts:deadband=1").find("unknown filter 'deadband'"), std::string::npos);
}

TEST(ClientSubscribeSpec, ErrorsNameTheProblem) {
  EXPECT_NE(error("telemtry").find("unknown channel 'telemtry'"), std::string::npos);
  EXPECT_NE(error(":device_id=1").find("missing channel"), std::string::npos);
  auto e = error("telemetry:severity=critical");
  EXPECT_NE(e.find("unknown filter 'severity' for channel telemetry"), std::string::npos) << e;
  EXPECT_NE(e.find("device_id, metrics, frequency, snapshot"), std::string::npos) << e;
  EXPECT_NE(error("system:device_id=1").find("unknown filter 'device_id'"), std::string::npos);
  EXPECT_NE(error("telemetry:device_id").find("is not KEY=VALUE"), std::string::npos);
  EXPECT_NE(error("telemetry:device_id=").find("device_id: empty value"), std::string::npos);
  EXPECT_NE(error("telemetry:device_id=1,,2").find("empty item"), std::string::npos);
  EXPECT_NE(error("telemetry:device_id=0").find("'0' is not a positive device id"),
            std::string::npos);
  EXPECT_NE(error("telemetry:device_id=x1").find("'x1'"), std::string::npos);
  EXPECT_NE(error("alerts:severity=loud").find("'loud' is not info, warning or critical"),
            std::string::npos);
  EXPECT_NE(error("alerts:since_alert_id=-1").find("integer >= 0"), std::string::npos);
  EXPECT_NE(error("devices:snapshot=yes").find("not true or false"), std::string::npos);
  EXPECT_NE(error("telemetry:device_id=1;device_id=2").find("given twice"), std::string::npos);
}

}  // namespace
}  // namespace valtronics::client
