// Delivery decisions: alerts once per (alert_id, status) across replays and reconnects, seq
// duplicates dropped, gaps counted (and explained by conflation), the resume point.
#include "client/router.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace valtronics::client {
namespace {

using V = Router::Verdict;

boost::json::object alert(std::int64_t id, std::int64_t seq, const char* status = "active") {
  boost::json::object o{{"type", "alert"}, {"channel", "alerts"}, {"alert_id", id},
                        {"status", status}};
  if (seq > 0) o["seq"] = seq;
  return o;
}

boost::json::object tel(std::int64_t seq, std::int64_t conflated = 0) {
  boost::json::object o{{"type", "telemetry_update"}, {"channel", "telemetry"}, {"seq", seq}};
  if (conflated) o["conflated"] = conflated;
  return o;
}

TEST(ClientRouter, AlertsAreDeliveredOncePerState) {
  Router r;
  EXPECT_EQ(r.judge("alert", alert(5, 1)), V::deliver);
  EXPECT_EQ(r.last_alert_id(), 5);
  // Reconnect: seq starts again; a replay overlapping what was seen is filtered.
  r.new_connection();
  EXPECT_EQ(r.judge("alert", alert(5, 1)), V::duplicate);
  EXPECT_EQ(r.judge("alert", alert(6, 2)), V::deliver);
  // The same alert acknowledged is news; seen twice in that state it is not.
  EXPECT_EQ(r.judge("alert", alert(5, 3, "acknowledged")), V::deliver);
  EXPECT_EQ(r.judge("alert", alert(5, 4, "acknowledged")), V::duplicate);
  EXPECT_EQ(r.last_alert_id(), 6);
  EXPECT_EQ(r.duplicates(), 2u);
  EXPECT_EQ(r.lost(), 0u);
}

TEST(ClientRouter, SeqDuplicatesAndGaps) {
  Router r;
  EXPECT_EQ(r.judge("telemetry_update", tel(1)), V::deliver);
  EXPECT_EQ(r.judge("telemetry_update", tel(2)), V::deliver);
  EXPECT_EQ(r.judge("telemetry_update", tel(2)), V::duplicate);
  EXPECT_EQ(r.judge("telemetry_update", tel(1)), V::duplicate);
  // Three updates merged into seq 5: numbers 3 and 4 are explained, nothing lost.
  EXPECT_EQ(r.judge("telemetry_update", tel(5, 3)), V::deliver);
  EXPECT_EQ(r.lost(), 0u);
  EXPECT_EQ(r.conflated(), 2u);
  // An unexplained jump is loss.
  EXPECT_EQ(r.judge("telemetry_update", tel(9)), V::deliver);
  EXPECT_EQ(r.lost(), 3u);
  // Channels count separately.
  EXPECT_EQ(r.judge("alert", alert(1, 1)), V::deliver);
  EXPECT_EQ(r.lost(), 3u);
  // A new connection restarts the counters.
  r.new_connection();
  EXPECT_EQ(r.judge("telemetry_update", tel(1)), V::deliver);
  EXPECT_EQ(r.lost(), 3u);
}

// telemetry_stale (an extension) is numbered on the telemetry channel like an update.
TEST(ClientRouter, TelemetryStaleCountsOnTheTelemetryChannel) {
  Router r;
  EXPECT_EQ(r.judge("telemetry_update", tel(1)), V::deliver);
  auto stale = boost::json::parse(
                   R"({"type":"telemetry_stale","channel":"telemetry","device_id":1,"seq":2})")
                   .as_object();
  EXPECT_EQ(r.judge("telemetry_stale", stale), V::deliver);
  EXPECT_EQ(r.judge("telemetry_stale", stale), V::duplicate);
  EXPECT_EQ(r.judge("telemetry_update", tel(3)), V::deliver);
  EXPECT_EQ(r.lost(), 0u);
}

TEST(ClientRouter, OtherMessagesPassThrough) {
  Router r;
  auto o = boost::json::parse(R"({"type":"subscribed","channel":"alerts","id":1})").as_object();
  EXPECT_EQ(r.judge("subscribed", o), V::deliver);
  EXPECT_EQ(r.judge("subscribed", o), V::deliver);
  EXPECT_EQ(r.judge("error", o), V::deliver);
  EXPECT_EQ(r.duplicates(), 0u);
}

TEST(ClientRouter, ResumePointNeverGoesBack) {
  Router r;
  r.note_since(10);
  EXPECT_EQ(r.last_alert_id(), 10);
  r.note_since(4);
  EXPECT_EQ(r.last_alert_id(), 10);
  EXPECT_EQ(r.judge("alert", alert(3, 1)), V::deliver);  // an old alert changing state
  EXPECT_EQ(r.last_alert_id(), 10);
}

TEST(ClientRouter, MemoryIsBounded) {
  Router r;
  for (std::int64_t id = 1; id <= static_cast<std::int64_t>(Router::kRememberedAlerts) + 10; ++id)
    ASSERT_EQ(r.judge("alert", alert(id, 0)), V::deliver);
  // The newest are still remembered...
  EXPECT_EQ(r.judge("alert", alert(static_cast<std::int64_t>(Router::kRememberedAlerts) + 10, 0)),
            V::duplicate);
  // ...the oldest were forgotten (a replay never asks for them again).
  EXPECT_EQ(r.judge("alert", alert(1, 0)), V::deliver);
}

}  // namespace
}  // namespace valtronics::client
