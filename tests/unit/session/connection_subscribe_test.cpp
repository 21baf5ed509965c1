// session::Connection: subscribe and unsubscribe on every channel with every filter (the
// `subscribed` reply echoes the normalized filters), authorization of channels and devices, the
// subscription limit, and the per-channel endpoints.
#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

TEST(SessionSubscribe, TelemetryEchoesNormalizedFilters) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[3,1,3],
      "metrics":["temperature","humidity","temperature"],"frequency":"1000ms","id":"s1"})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"telemetry",
      "filters":{"device_id":[1,3],"metrics":["humidity","temperature"],"frequency":"1s"},
      "id":"s1"})"));
  EXPECT_EQ(c->conn.subscription_count(), 2u);
}

TEST(SessionSubscribe, TelemetryDefaultsToEveryDeviceInRealTime) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"telemetry",
      "filters":{"frequency":"real-time"},"id":1})"));
  EXPECT_EQ(c->conn.subscription_count(), 1u);
}

TEST(SessionSubscribe, FiltersUnderFiltersMeanTheSameAsTopLevel) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","filters":{"device_id":5,
      "metrics":["rpm"]},"id":1})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"telemetry",
      "filters":{"device_id":[5],"metrics":["rpm"],"frequency":"real-time"},"id":1})"));
}

TEST(SessionSubscribe, TelemetrySnapshotFalseRepliesAtOnceAndEchoesIt) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","snapshot":false,"id":1})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"telemetry",
      "filters":{"frequency":"real-time","snapshot":false},"id":1})"));
  EXPECT_EQ(c->host.pending_queries(), 0u);
}

TEST(SessionSubscribe, TelemetrySnapshotTrueRepliesWhenTheSnapshotComes) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":2,"metrics":["t"],
      "snapshot":true,"id":1})");
  EXPECT_TRUE(c->read().empty());
  ASSERT_EQ(c->host.telemetry_queries.size(), 1u);
  EXPECT_EQ(c->host.telemetry_queries[0].filters.device_ids, std::vector<std::int64_t>{2});
  EXPECT_EQ(c->host.telemetry_queries[0].filters.metrics, std::vector<std::string>{"t"});
  EXPECT_EQ(c->host.telemetry_queries[0].claims.sub, "alice");
  c->answer_telemetry({}, 0);
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"telemetry",
      "filters":{"device_id":[2],"metrics":["t"],"frequency":"real-time","snapshot":true},"id":1})"));
}

TEST(SessionSubscribe, AlertsEchoesSeverityAndAlertTypeInNameOrderWithLastAlertId) {
  SessionHarness h;
  h.newest_alert_id = 41;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":4,
      "severity":["warning","critical"],"alert_type":"anomaly","id":2})");
  EXPECT_TRUE(c->read().empty()) << "the reply waits for the store";
  ASSERT_EQ(c->host.replay_queries.size(), 1u);
  // Without since_alert_id the query only looks for the newest alert: from the known newest,
  // with no filter but the token.
  EXPECT_EQ(c->host.replay_queries[0].since_id, 41);
  EXPECT_EQ(c->host.replay_queries[0].filters, protocol::Filters{});
  c->answer_alerts({});
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"alerts",
      "filters":{"device_id":[4],"severity":["critical","warning"],"alert_type":["anomaly"]},
      "last_alert_id":41,"id":2})"));
}

TEST(SessionSubscribe, AlertsLastAlertIdIsTheNewestStoredAlert) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","id":2})");
  c->answer_alerts({stored_alert(3, 1), stored_alert(7, 2)});
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"alerts","filters":{},
      "last_alert_id":7,"id":2})"));
  EXPECT_EQ(h.newest_alert_id.load(), 7) << "the shared newest alert id is raised";
}

TEST(SessionSubscribe, AlertsSinceAlertIdEchoesItWithRecovered) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","since_alert_id":12,"severity":"critical",
      "id":2})");
  ASSERT_EQ(c->host.replay_queries.size(), 1u);
  EXPECT_EQ(c->host.replay_queries[0].since_id, 12);
  EXPECT_EQ(c->host.replay_queries[0].filters.severities,
            std::vector<model::Severity>{model::Severity::critical});
  c->answer_alerts({});
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"alerts",
      "filters":{"severity":["critical"],"since_alert_id":12},"recovered":true,
      "last_alert_id":12,"id":2})"));
}

TEST(SessionSubscribe, DevicesSnapshotByDefaultEchoesStatusTypes) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"devices","device_id":[2,1],
      "status_types":["offline","error"],"id":3})");
  EXPECT_TRUE(c->read().empty());
  ASSERT_EQ(c->host.status_queries.size(), 1u);
  c->answer_status({}, 0);
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"devices",
      "filters":{"device_id":[1,2],"status_types":["error","offline"]},"id":3})"));
}

TEST(SessionSubscribe, DevicesSnapshotFalseRepliesAtOnce) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"devices","status_types":"online","snapshot":false,
      "id":3})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"devices",
      "filters":{"status_types":["online"],"snapshot":false},"id":3})"));
  EXPECT_EQ(c->host.pending_queries(), 0u);
}

TEST(SessionSubscribe, SystemEchoesMetricsAndFrequencyWithItsDefault) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"system","id":1})");
  c->send(R"({"type":"subscribe","channel":"system","metrics":["memory_usage","cpu_usage"],
      "frequency":"5s","id":2})");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0], obj(R"({"type":"subscribed","channel":"system",
      "filters":{"frequency":"30s"},"id":1})"));
  EXPECT_EQ(msgs[1], obj(R"({"type":"subscribed","channel":"system",
      "filters":{"metrics":["cpu_usage","memory_usage"],"frequency":"5s"},"id":2})"));
  EXPECT_EQ(c->conn.subscription_count(), 1u) << "the second replaced the first";
}

TEST(SessionSubscribe, SystemIsForbiddenForUsersAndAnalysts) {
  SessionHarness h;
  for (auto role : {auth::Role::user, auth::Role::analyst}) {
    auto c = h.authed(h.token({.sub = "u", .role = role, .all_devices = true}));
    c->send(R"({"type":"subscribe","channel":"system","id":5})");
    EXPECT_EQ(c->read_one(), obj(std::string(R"({"type":"error","error":"forbidden","message":
        "role ')") + std::string(auth::to_string(role)) + R"(' may not subscribe to system","id":5})"));
    EXPECT_EQ(c->conn.subscription_count(), 0u);
  }
}

TEST(SessionSubscribe, OperatorMaySubscribeToSystem) {
  SessionHarness h;
  auto c = h.authed(h.token({.sub = "op", .role = auth::Role::operator_}));
  c->send(R"({"type":"subscribe","channel":"system","id":5})");
  EXPECT_EQ(c->read_one().at("type"), "subscribed");
}

TEST(SessionSubscribe, DeviceTokensMayNotSubscribe) {
  SessionHarness h;
  auto c = h.authed(h.token({.sub = "dev-7", .role = auth::Role::device, .device_id = 7}));
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":7,"id":1})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"error","error":"forbidden","message":
      "role 'device' may not subscribe to telemetry","id":1})"));
}

// A partial subscribe (issue 15): the covered devices are subscribed, the others named in
// `forbidden`; only a request covering none is refused whole.
TEST(SessionSubscribe, DevicesOutsideTheTokenAreLeftOutAndNamed) {
  SessionHarness h;
  auto c = h.authed(h.user_token({1, 2}));
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[1,3,4],"id":1})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"telemetry","filters":
      {"device_id":[1],"frequency":"real-time"},"forbidden":[3,4],"id":1})"));
  EXPECT_EQ(c->conn.subscription_count(), 1u);
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":[3,4],"id":2})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"error","error":"forbidden","message":
      "token does not cover devices 3, 4","id":2})"));
  c->send(R"({"type":"subscribe","channel":"alerts","device_id":3,"id":3})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"error","error":"forbidden","message":
      "token does not cover device 3","id":3})"));
  EXPECT_EQ(c->host.pending_queries(), 0u);
  EXPECT_EQ(c->conn.subscription_count(), 1u);
}

// The extensions' filters come back normalized; a client that uses none sees none of them.
TEST(SessionSubscribe, ExtensionFiltersAreEchoedNormalized) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":1,"deadband":{"t":0.5,"*":2},
      "filters":{"deadband_pct":5,"max_silence":"60000ms"},"crossing":{"h":30},
      "direction":"down","stale_after":"120s","id":1})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"telemetry","filters":
      {"device_id":[1],"frequency":"real-time","deadband":{"t":0.5,"*":2},"deadband_pct":5,
       "max_silence":"1m","crossing":{"h":30},"direction":"down","stale_after":"2m"},"id":1})"));
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":2,"frequency":"10s",
      "aggregate":"max","id":2})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"telemetry","filters":
      {"device_id":[2],"frequency":"10s","aggregate":"max"},"id":2})"));
}

TEST(SessionSubscribe, TooManySubscriptions) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.max_subscriptions = 3;
  SessionHarness h(cfg);
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[1,2],"id":1})");
  ASSERT_EQ(c->read_one().at("type"), "subscribed");
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[3,4],"id":2})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"error","error":"too_many_subscriptions",
      "message":"at most 3 subscriptions per connection","id":2})"));
  EXPECT_EQ(c->conn.subscription_count(), 2u) << "none of the request's keys was added";
  // Replacing existing keys adds none; one more key reaches the limit exactly.
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[1,2],"metrics":["t"],"id":3})");
  EXPECT_EQ(c->read_one().at("type"), "subscribed");
  c->send(R"({"type":"subscribe","channel":"devices","snapshot":false,"id":4})");
  EXPECT_EQ(c->read_one().at("type"), "subscribed");
  EXPECT_EQ(c->conn.subscription_count(), 3u);
  c->send(R"({"type":"subscribe","channel":"system","id":5})");
  EXPECT_EQ(c->read_one().at("error"), "too_many_subscriptions");
}

TEST(SessionSubscribe, UnsubscribeCountsRemoved) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[1,2,3],"id":1})");
  c->send(R"({"type":"subscribe","channel":"devices","device_id":2,"snapshot":false,"id":2})");
  ASSERT_EQ(c->read().size(), 2u);
  c->send(R"({"type":"unsubscribe","channel":"telemetry","device_id":2,"id":3})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"unsubscribed","channel":"telemetry","device_id":2,
      "removed":1,"id":3})"));
  c->send(R"({"type":"unsubscribe","channel":"telemetry","id":4})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"unsubscribed","channel":"telemetry","removed":2,"id":4})"));
  c->send(R"({"type":"unsubscribe","channel":"telemetry","id":5})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"unsubscribed","channel":"telemetry","removed":0,"id":5})"));
  EXPECT_EQ(c->conn.subscription_count(), 1u) << "the devices subscription stays";
  EXPECT_EQ(h.shard.registrations(), 1u);
  // Unsubscribed keys deliver nothing any more.
  h.publish(telemetry(1, {reading("t", 1)}));
  EXPECT_TRUE(c->read().empty());
  h.publish(status_event(2, model::DeviceStatus::online, model::DeviceStatus::offline));
  EXPECT_EQ(c->read_one().at("type"), "device_status_update");
}

TEST(SessionSubscribe, UnsubscribeOfTheEveryDeviceKeyLeavesDeviceKeys) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":4,"id":2})");
  ASSERT_EQ(c->read().size(), 2u);
  c->send(R"({"type":"unsubscribe","channel":"telemetry","device_id":9,"id":3})");
  EXPECT_EQ(c->read_one().at("removed"), 0);
  EXPECT_EQ(c->conn.subscription_count(), 2u);
}

TEST(SessionSubscribe, EndpointChannelIsSubscribedAfterAuth) {
  SessionHarness h;
  auto c = h.connect({.endpoint_channel = model::Channel::telemetry});
  EXPECT_EQ(c->conn.subscription_count(), 0u);
  c->send(SessionHarness::auth_message(h.admin_token()));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].at("type"), "auth_response");
  EXPECT_EQ(msgs[1], obj(R"({"type":"subscribed","channel":"telemetry",
      "filters":{"frequency":"real-time"}})"));
  EXPECT_EQ(c->conn.subscription_count(), 1u);
  h.publish(telemetry(8, {reading("t", 1)}));
  EXPECT_EQ(c->read_one().at("type"), "telemetry_update");
}

TEST(SessionSubscribe, EndpointChannelRefusesOtherChannelsButTakesFiltersForItsOwn) {
  SessionHarness h;
  auto c = h.connect({.endpoint_channel = model::Channel::telemetry});
  c->send(SessionHarness::auth_message(h.admin_token()));
  ASSERT_EQ(c->read().size(), 2u);
  c->send(R"({"type":"subscribe","channel":"alerts","id":1})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"error","error":"channel_not_allowed","message":
      "this endpoint serves only the telemetry channel; use /ws for every channel","id":1})"));
  c->send(R"({"type":"subscribe","channel":"telemetry","metrics":["t"],"id":2})");
  EXPECT_EQ(c->read_one().at("type"), "subscribed");
  EXPECT_EQ(c->conn.subscription_count(), 1u) << "replaced the endpoint's own subscription";
}

TEST(SessionSubscribe, SystemEndpointUsesTheDefaultFrequency) {
  SessionHarness h;
  auto c = h.connect({.endpoint_channel = model::Channel::system}, h.admin_token());
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1], obj(R"({"type":"subscribed","channel":"system","filters":{"frequency":"30s"}})"));
}

TEST(SessionSubscribe, AlertsEndpointStartsWithTheStoreQuery) {
  SessionHarness h;
  h.newest_alert_id = 5;
  auto c = h.connect({.endpoint_channel = model::Channel::alerts}, h.admin_token());
  EXPECT_EQ(types_of(c->read()), std::vector<std::string>{"auth_response"});
  c->answer_alerts({});
  EXPECT_EQ(c->read_one(), obj(R"({"type":"subscribed","channel":"alerts","filters":{},
      "last_alert_id":5})"));
}

TEST(SessionSubscribe, DevicesEndpointStartsWithTheSnapshot) {
  SessionHarness h;
  auto c = h.connect({.endpoint_channel = model::Channel::devices}, h.admin_token());
  EXPECT_EQ(types_of(c->read()), std::vector<std::string>{"auth_response"});
  c->answer_status({status_event(1, model::DeviceStatus::online, model::DeviceStatus::online, "snapshot")}, 0);
  EXPECT_EQ(types_of(c->read()),
            (std::vector<std::string>{"subscribed", "device_status_update"}));
}

TEST(SessionSubscribe, SystemEndpointForAUserWarnsThatItDeliversNothing) {
  SessionHarness h;
  auto c = h.connect({.endpoint_channel = model::Channel::system}, h.user_token({1}));
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1], obj(R"({"type":"error","error":"forbidden","message":
      "role 'user' may not subscribe to system: this endpoint will deliver nothing"})"));
  EXPECT_EQ(c->conn.subscription_count(), 0u);
  EXPECT_EQ(c->conn.state(), Connection::State::open);
}

}  // namespace
}  // namespace valtronics::session::test
