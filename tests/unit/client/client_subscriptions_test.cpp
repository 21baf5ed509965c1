// The client's subscription set: keyed by (channel, device) like the server, rebuilt into the
// fewest subscribe messages after a reconnect, alerts resumed with since_alert_id.
#include "client/subscriptions.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace valtronics::client {
namespace {

boost::json::object obj(const char* text) { return boost::json::parse(text).as_object(); }

std::vector<std::string> restore(const SubscriptionSet& s,
                                 std::optional<std::int64_t> resume = std::nullopt) {
  std::vector<std::string> out;
  for (const auto& m : s.restore_messages(resume)) out.push_back(boost::json::serialize(m));
  return out;
}

TEST(ClientSubscriptions, GroupsDevicesWithEqualFilters) {
  SubscriptionSet s;
  s.confirm("telemetry", obj(R"({"device_id":[1,2],"metrics":["temperature"],"frequency":"real-time"})"));
  s.confirm("telemetry", obj(R"({"device_id":[3],"metrics":["temperature"],"frequency":"real-time"})"));
  s.confirm("telemetry", obj(R"({"device_id":[4],"frequency":"5s"})"));
  EXPECT_EQ(s.size(), 4u);
  auto msgs = restore(s);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0],
            R"({"type":"subscribe","channel":"telemetry","filters":{"metrics":["temperature"],"frequency":"real-time","device_id":[1,2,3]}})");
  EXPECT_EQ(msgs[1],
            R"({"type":"subscribe","channel":"telemetry","filters":{"frequency":"5s","device_id":[4]}})");
}

TEST(ClientSubscriptions, ResubscribingAKeyReplacesItsFilters) {
  SubscriptionSet s;
  s.confirm("telemetry", obj(R"({"device_id":[1],"metrics":["a"]})"));
  s.confirm("telemetry", obj(R"({"device_id":[1],"metrics":["b"]})"));
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(restore(s)[0],
            R"({"type":"subscribe","channel":"telemetry","filters":{"metrics":["b"],"device_id":[1]}})");
}

TEST(ClientSubscriptions, EveryDeviceKeyIsSeparate) {
  SubscriptionSet s;
  s.confirm("alerts", obj(R"({"severity":["critical"]})"));
  s.confirm("alerts", obj(R"({"device_id":[7],"severity":["critical"]})"));
  auto msgs = restore(s);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0], R"({"type":"subscribe","channel":"alerts","filters":{"severity":["critical"]}})");
  EXPECT_EQ(msgs[1],
            R"({"type":"subscribe","channel":"alerts","filters":{"severity":["critical"],"device_id":[7]}})");
}

TEST(ClientSubscriptions, AlertsResumeAfterTheLastAlertSeen) {
  SubscriptionSet s;
  // A since_alert_id the application asked for once is not part of the subscription.
  s.confirm("alerts", obj(R"({"since_alert_id":3})"));
  s.confirm("devices", obj(R"({"snapshot":true})"));
  auto msgs = restore(s, 42);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0], R"({"type":"subscribe","channel":"alerts","filters":{"since_alert_id":42}})");
  EXPECT_EQ(msgs[1], R"({"type":"subscribe","channel":"devices","filters":{"snapshot":true}})");
  EXPECT_EQ(restore(s)[0], R"({"type":"subscribe","channel":"alerts","filters":{}})");
}

TEST(ClientSubscriptions, RemoveMirrorsUnsubscribe) {
  SubscriptionSet s;
  s.confirm("telemetry", obj(R"({"device_id":[1,2]})"));
  s.confirm("telemetry", obj(R"({})"));
  s.confirm("alerts", obj(R"({})"));
  s.remove("telemetry", 1);
  EXPECT_EQ(s.size(), 3u);
  s.remove("telemetry", 0);  // the every-device key only
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.has_channel("telemetry"));
  s.remove("telemetry", std::nullopt);  // every key of the channel
  EXPECT_FALSE(s.has_channel("telemetry"));
  EXPECT_EQ(s.size(), 1u);
  s.remove("devices", 5);  // nothing there: idempotent
  EXPECT_EQ(s.size(), 1u);
}

}  // namespace
}  // namespace valtronics::client
