// MQTT ingest topics (mqtt/topics.hpp) and broker URLs (mqtt/broker_url.hpp).
#include "mqtt/topics.hpp"

#include <gtest/gtest.h>

#include "mqtt/broker_url.hpp"

namespace valtronics::mqtt {
namespace {

TEST(MqttTopics, NamesTheDeviceAndTheKindOfMessage) {
  std::string why;
  auto t = parse_topic("valtronics/devices/42/telemetry/temperature", "valtronics", why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->kind, Topic::Kind::metric);
  EXPECT_EQ(t->device_id, 42);
  EXPECT_EQ(t->metric, "temperature");

  t = parse_topic("valtronics/devices/7/telemetry", "valtronics", why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->kind, Topic::Kind::telemetry);
  EXPECT_EQ(t->device_id, 7);

  t = parse_topic("site1/vt/devices/9/status", "site1/vt", why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->kind, Topic::Kind::status);
  EXPECT_EQ(t->device_id, 9);
}

TEST(MqttTopics, RefusesWhatIsNotADeviceTopicAndSaysWhy) {
  for (const char* bad :
       {"other/devices/1/telemetry", "valtronics", "valtronics/", "valtronicsX/devices/1/status",
        "valtronics/devices/x/telemetry", "valtronics/devices/0/telemetry",
        "valtronics/devices/-3/telemetry", "valtronics/devices//telemetry",
        "valtronics/devices/1", "valtronics/devices/1/commands",
        "valtronics/devices/1/status/extra", "valtronics/devices/1/telemetry/a/b",
        "valtronics/devices/99999999999999999999/telemetry", "valtronics/devices/1/telemetry/"}) {
    std::string why;
    EXPECT_FALSE(parse_topic(bad, "valtronics", why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(MqttTopics, SubscriptionsCoverEveryForm) {
  EXPECT_EQ(subscriptions("vt"),
            (std::vector<std::string>{"vt/devices/+/telemetry/+", "vt/devices/+/telemetry",
                                      "vt/devices/+/status"}));
}

TEST(MqttBrokerUrl, SchemesPortsHostsAndCredentials) {
  std::string why;
  auto u = parse_broker_url("mqtt://127.0.0.1", why);
  ASSERT_TRUE(u) << why;
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 1883);
  EXPECT_EQ(u->display(), "mqtt://127.0.0.1:1883");

  u = parse_broker_url("mqtts://broker.example:9883/", why);
  ASSERT_TRUE(u) << why;
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "broker.example");
  EXPECT_EQ(u->port, 9883);

  u = parse_broker_url("mqtts://[::1]", why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8883);
  EXPECT_EQ(u->display(), "mqtts://[::1]:8883");

  u = parse_broker_url("mqtt://dev:s3cret@10.0.0.5:1884", why);
  ASSERT_TRUE(u) << why;
  EXPECT_EQ(u->username, "dev");
  EXPECT_EQ(u->password, "s3cret");
  EXPECT_EQ(u->display(), "mqtt://10.0.0.5:1884");  // never the credentials
}

TEST(MqttBrokerUrl, RefusesWhatItCannotUse) {
  for (const char* bad : {"tcp://127.0.0.1:1883", "127.0.0.1:1883", "mqtt://", "mqtt://:1883",
                          "mqtt://host:", "mqtt://host:0", "mqtt://host:65536", "mqtt://host:x",
                          "mqtt://host/topic", "mqtt://[::1", "mqtt://[::1]1883"}) {
    std::string why;
    EXPECT_FALSE(parse_broker_url(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

}  // namespace
}  // namespace valtronics::mqtt
