// session::Connection: errors and limits (the error catalogue with ids echoed, batches, rate
// limit, frame sizes, binary and control frames, the outbound budget) and the deadlines (write
// stall, idle keepalive, close linger) and the end of a connection.
#include <gtest/gtest.h>

#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

namespace close_code = protocol::close_code;

// A ping padded to exactly `size` bytes.
std::string ping_of_size(std::size_t size) {
  std::string head = R"({"type":"ping","timestamp":")", tail = R"("})";
  return head + std::string(size - head.size() - tail.size(), 'x') + tail;
}

// ------------------------------------------------------------------------------ errors

TEST(SessionErrors, InvalidJson) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"ping","id":1)");
  c->send("[1,2]");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0], obj(R"({"type":"error","error":"invalid_json","message":"message is not valid JSON"})"));
  EXPECT_EQ(msgs[1], obj(R"({"type":"error","error":"invalid_json","message":"message is not a JSON object"})"));
  EXPECT_EQ(c->conn.state(), Connection::State::open);
}

TEST(SessionErrors, UnknownTypeEchoesTheId) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"greet","id":7})");
  EXPECT_EQ(c->read_one(), obj(R"j({"type":"error","error":"unknown_type","message":
      "unknown message type 'greet' (expected auth, subscribe, unsubscribe, ping, batch, ack or hello)","id":7})j"));
}

TEST(SessionErrors, MissingOrBadFieldsAreInvalidMessage) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"id":1})");
  c->send(R"({"type":"subscribe","id":2})");
  c->send(R"({"type":"subscribe","channel":5,"id":3})");
  c->send(R"({"type":"ping","id":{"a":1}})");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_EQ(msgs[0], obj(R"({"type":"error","error":"invalid_message","message":"missing 'type'","id":1})"));
  EXPECT_EQ(msgs[1], obj(R"({"type":"error","error":"invalid_message","message":"missing 'channel'","id":2})"));
  EXPECT_EQ(msgs[2].at("error"), "invalid_message");
  EXPECT_EQ(msgs[2].at("id"), 3);
  EXPECT_EQ(msgs[3], obj(R"({"type":"error","error":"invalid_message",
      "message":"invalid 'id': expected a string or a number"})"));
}

TEST(SessionErrors, UnknownChannelEchoesTheId) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"weather","id":"x"})");
  EXPECT_EQ(c->read_one(), obj(R"j({"type":"error","error":"unknown_channel","message":
      "unknown channel 'weather' (expected telemetry, alerts, devices or system)","id":"x"})j"));
  c->send(R"({"type":"unsubscribe","channel":"weather","id":"y"})");
  auto m = c->read_one();
  EXPECT_EQ(m.at("error"), "unknown_channel");
  EXPECT_EQ(m.at("id"), "y");
}

TEST(SessionErrors, UnknownFilterForTheChannelEchoesTheId) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","severity":"critical","id":3})");
  c->send(R"({"type":"subscribe","channel":"alerts","filters":{"metrics":["t"]},"id":4})");
  c->send(R"({"type":"subscribe","channel":"system","device_id":1,"id":5})");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(msgs[i].at("error"), "unknown_filter") << json::serialize(msgs[i]);
    EXPECT_EQ(msgs[i].at("id"), i + 3);
  }
  EXPECT_NE(msgs[0].at("message").as_string().find("'severity'"), json::string::npos);
  EXPECT_NE(msgs[1].at("message").as_string().find("'metrics'"), json::string::npos);
  EXPECT_EQ(c->conn.subscription_count(), 0u);
}

TEST(SessionErrors, InvalidFilterValuesEchoTheId) {
  SessionHarness h;
  auto c = h.admin();
  const char* requests[] = {
      R"({"type":"subscribe","channel":"telemetry","frequency":"fast","id":1})",
      R"({"type":"subscribe","channel":"telemetry","frequency":"50ms","id":2})",
      R"({"type":"subscribe","channel":"telemetry","device_id":-1,"id":3})",
      R"({"type":"subscribe","channel":"alerts","severity":"loud","id":4})",
      R"({"type":"subscribe","channel":"alerts","alert_type":["threshold","x"],"id":5})",
      R"({"type":"subscribe","channel":"devices","status_types":["asleep"],"id":6})",
      R"({"type":"subscribe","channel":"system","metrics":["gpu_usage"],"id":7})",
      R"({"type":"subscribe","channel":"system","frequency":"500ms","id":8})",
      R"({"type":"subscribe","channel":"alerts","since_alert_id":-3,"id":9})",
      R"({"type":"subscribe","channel":"devices","snapshot":"yes","id":10})",
      R"({"type":"subscribe","channel":"telemetry","device_id":1,"filters":{"device_id":2},"id":11})",
  };
  for (const char* r : requests) c->send(r);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), std::size(requests));
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_EQ(msgs[i].at("error"), "invalid_filter") << json::serialize(msgs[i]);
    EXPECT_EQ(msgs[i].at("id"), static_cast<std::int64_t>(i + 1));
  }
  EXPECT_EQ(msgs[0].at("message"), "invalid filter 'frequency': expected \"real-time\" or a duration like \"500ms\", \"1s\", \"5m\"");
  EXPECT_EQ(c->conn.subscription_count(), 0u);
  EXPECT_EQ(c->host.pending_queries(), 0u);
}

TEST(SessionErrors, BinaryFrameCloses1003AndIsNotReadFurther) {
  SessionHarness h;
  auto c = h.admin();
  c->send_frame(Opcode::binary, R"({"type":"ping"})");
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), close_code::unsupported_data);
  EXPECT_EQ(frames[0].close_reason(),
            "binary frames need the valtronics.msgpack subprotocol: send JSON in text frames");
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
  EXPECT_FALSE(c->conn.wants_reads()) << "closed for abuse: the host stops reading";
}

TEST(SessionErrors, ProtocolViolationsStopReadsButAPeerCloseDoesNot) {
  SessionHarness h;
  auto c = h.admin();
  c->send_raw(std::string("\x81\x02", 2) + "{}");  // unmasked
  EXPECT_EQ(c->read_frames().at(0).close_code(), 1002);
  EXPECT_FALSE(c->conn.wants_reads());
  auto d = h.admin();
  d->conn.close(close_code::going_away, "bye");
  EXPECT_TRUE(d->conn.wants_reads()) << "a normal close still waits for the peer's close frame";
}

TEST(SessionErrors, UnmaskedFrameCloses1002) {
  SessionHarness h;
  auto c = h.admin();
  const std::string unmasked = std::string("\x81\x02", 2) + "{}";
  c->send_raw(unmasked);
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), 1002);
}

TEST(SessionErrors, InvalidUtf8TextCloses1007) {
  SessionHarness h;
  auto c = h.admin();
  c->send(std::string("{\"type\":\"ping\",\"timestamp\":\"\xC3\x28\"}"));
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), 1007);
}

// ------------------------------------------------------------------------------ batch

TEST(SessionErrors, BatchAnswersEachElementInOrder) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"batch","id":"B","messages":[
      {"type":"ping","id":1},
      {"type":"subscribe","channel":"telemetry","device_id":3,"id":2},
      {"type":"nope","id":3},
      {"type":"subscribe","channel":"telemetry","frequency":"x","id":4},
      {"type":"unsubscribe","channel":"telemetry","device_id":3,"id":5}]})");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 5u) << TestClient::dump(msgs);
  EXPECT_EQ(types_of(msgs), (std::vector<std::string>{"pong", "subscribed", "error", "error",
                                                      "unsubscribed"}));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(msgs[i].at("id"), i + 1);
  EXPECT_EQ(msgs[2].at("error"), "unknown_type");
  EXPECT_EQ(msgs[3].at("error"), "invalid_filter");
  EXPECT_EQ(msgs[4].at("removed"), 1);
}

TEST(SessionErrors, NestedBatchIsOneErrorAndNothingRuns) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"batch","id":"N","messages":[{"type":"ping","id":1},
      {"type":"batch","messages":[{"type":"ping"}]}]})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"error","error":"nested_batch",
      "message":"a batch may not contain a batch (message 1); nothing was executed","id":"N"})"));
}

TEST(SessionErrors, BatchTooLargeIsOneErrorAndNothingRuns) {
  SessionHarness h;
  auto c = h.admin();
  std::string batch = R"({"type":"batch","id":"L","messages":[)";
  for (int i = 0; i < 51; ++i) batch += std::string(i ? "," : "") + R"({"type":"ping"})";
  batch += "]}";
  c->send(batch);
  auto m = c->read_one();
  EXPECT_EQ(m.at("error"), "batch_too_large");
  EXPECT_EQ(m.at("id"), "L");
  EXPECT_NE(m.at("message").as_string().find("51"), json::string::npos);
}

TEST(SessionErrors, BatchOfMaxBatchRunsEveryElement) {
  SessionHarness h;
  auto c = h.admin();
  std::string batch = R"({"type":"batch","messages":[)";
  for (int i = 0; i < 50; ++i) batch += std::string(i ? "," : "") + R"({"type":"ping","id":)" + std::to_string(i) + "}";
  batch += "]}";
  c->send(batch);
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 50u);
  EXPECT_EQ(msgs[49].at("id"), 49);
}

TEST(SessionErrors, BatchBeforeAuthIsNotAuthenticatedAndNothingRuns) {
  SessionHarness h;
  auto c = h.connect();
  c->send(R"({"type":"batch","id":"B","messages":[{"type":"ping","id":1},)"
          R"({"type":"auth","token":")" + h.admin_token() + R"(","id":2}]})");
  EXPECT_EQ(c->read_one(), obj(R"({"type":"error","error":"not_authenticated",
      "message":"authenticate first: send {\"type\":\"auth\",\"token\":...}","id":"B"})"));
  EXPECT_FALSE(c->conn.authenticated());
}

TEST(SessionErrors, AuthInsideABatchAuthenticatesTheRest) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"batch","messages":[)"
          R"({"type":"auth","token":")" + h.user_token({1}, "zoe") + R"(","id":1},)"
          R"({"type":"subscribe","channel":"telemetry","device_id":2,"id":2}]})");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].at("user"), "zoe");
  EXPECT_EQ(msgs[1].at("error"), "forbidden") << "the element after it runs with the new token";
}

// ------------------------------------------------------------------------------ ping, close

TEST(SessionErrors, PingGetsPongWithEchoedTimestampAndServerTime) {
  SessionHarness h;
  auto c = h.connect();  // allowed before auth
  c->send(R"({"type":"ping","timestamp":"2026-01-01T11:59:59Z","id":4})");
  c->send(R"({"type":"ping","timestamp":{"n":[1,2]}})");
  c->send(R"({"type":"ping"})");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0], obj(R"({"type":"pong","timestamp":"2026-01-01T11:59:59Z",
      "server_time":"2026-01-01T12:00:00.000Z","id":4})"));
  EXPECT_EQ(msgs[1].at("timestamp"), json::parse(R"({"n":[1,2]})"));
  EXPECT_EQ(msgs[2], obj(R"({"type":"pong","timestamp":null,"server_time":"2026-01-01T12:00:00.000Z"})"));
}

TEST(SessionErrors, ClientPingFrameGetsAPongFrameWithItsPayload) {
  SessionHarness h;
  auto c = h.admin();
  c->send_frame(Opcode::ping, "are you there");
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, Opcode::pong);
  EXPECT_EQ(frames[0].payload, "are you there");
}

TEST(SessionErrors, ClientCloseIsEchoedAndThenNothingIsRead) {
  SessionHarness h;
  auto c = h.admin();
  c->send_frame(Opcode::close, close_body(1001, "bye"));
  EXPECT_TRUE(c->conn.peer_closed());
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), 1001);
  c->send(R"({"type":"ping"})");
  EXPECT_TRUE(c->read_frames().empty()) << "once closing, the peer's data is ignored";
}

TEST(SessionErrors, ClientCloseWithoutCodeIsAnsweredWith1000) {
  SessionHarness h;
  auto c = h.admin();
  c->send_frame(Opcode::close, "");
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), close_code::normal);
  EXPECT_TRUE(c->conn.peer_closed());
}

TEST(SessionErrors, ServerCloseIsTheLastFrame) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->conn.close(close_code::going_away, "server shutting down");
  h.publish(telemetry(1, {reading("t", 1)}));
  c->conn.close(close_code::normal, "again");  // ignored: already closing
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_TRUE(frames[0].is_text());
  EXPECT_EQ(frames[1].close_code(), close_code::going_away);
  EXPECT_EQ(frames[1].close_reason(), "server shutting down");
  EXPECT_FALSE(c->conn.peer_closed());
}

// ------------------------------------------------------------------------------ limits

TEST(SessionLimits, RateLimitDropsTheMessageWithRateLimited) {
  SessionHarness h;  // 100 messages per second, a burst of 100
  auto c = h.admin();  // the auth message took one
  for (int i = 0; i < 100; ++i) c->send(R"({"type":"ping","id":)" + std::to_string(i) + "}");
  auto msgs = c->read();
  ASSERT_EQ(msgs.size(), 100u);
  EXPECT_EQ(msgs[98].at("type"), "pong");
  EXPECT_EQ(msgs[98].at("id"), 98);
  EXPECT_EQ(msgs[99].at("type"), "error");
  EXPECT_EQ(msgs[99].at("error"), "rate_limited");
  EXPECT_EQ(msgs[99].at("message"), "more than 100 messages per second: message dropped");
  // A token comes back after 10 ms.
  FakeClock::advance(10ms);
  c->send(R"({"type":"ping","id":"later"})");
  EXPECT_EQ(c->read_one().at("type"), "pong");
}

TEST(SessionLimits, SustainedFloodCloses4008AfterFloodCloseAfter) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.messages_per_second = 2;
  SessionHarness h(cfg);
  auto c = h.admin();
  const auto start = FakeClock::steady;
  // Three messages every half second: one gets through, two are rejected.
  for (int step = 0; step <= 10; ++step) {
    for (int i = 0; i < 3; ++i) c->send(R"({"type":"ping"})");
    if (step < 10) {
      EXPECT_EQ(c->conn.state(), Connection::State::open) << "at step " << step;
      auto msgs = c->read();
      ASSERT_EQ(msgs.size(), 3u);
      EXPECT_EQ(msgs[0].at("type"), "pong");
      EXPECT_EQ(msgs[1].at("error"), "rate_limited");
      FakeClock::advance(500ms);
    }
  }
  EXPECT_EQ(FakeClock::steady - start, h.cfg.limits.flood_close_after);
  auto frames = c->read_frames();
  ASSERT_GE(frames.size(), 1u);
  EXPECT_EQ(frames.back().close_code(), close_code::rate_limit_abuse);
  EXPECT_EQ(frames.back().close_reason(), "message rate limit exceeded for too long");
}

// Control frames (issue 10, defect 1): limits.control_frames_per_second, one second's burst;
// beyond, pings are not answered; still over it after flood_close_after: 4008, and no more reads.
TEST(SessionLimits, ControlFramesBeyondTheirRateAreIgnoredThenClose4008) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.control_frames_per_second = 4;
  SessionHarness h(cfg);
  auto c = h.admin();
  std::size_t pongs = 0;
  for (int i = 0; i < 10; ++i) {
    c->send_frame(Opcode::ping, "p" + std::to_string(i));
    for (const auto& f : c->read_frames()) pongs += f.opcode == Opcode::pong ? 1 : 0;
  }
  EXPECT_EQ(pongs, 4u) << "the burst is answered, the rest ignored";
  c->send(R"({"type":"ping","id":1})");
  EXPECT_EQ(c->read_one().at("type"), "pong") << "messages have their own bucket";
  const auto start = FakeClock::steady;
  // Ten pings every half second, for flood_close_after: then 4008.
  while (c->conn.state() == Connection::State::open) {
    ASSERT_LE(FakeClock::steady - start, h.cfg.limits.flood_close_after) << "never closed";
    FakeClock::advance(500ms);
    for (int i = 0; i < 10; ++i) c->send_frame(Opcode::pong, "");
  }
  EXPECT_EQ(FakeClock::steady - start, h.cfg.limits.flood_close_after);
  auto frames = c->read_frames();
  ASSERT_GE(frames.size(), 1u);
  EXPECT_EQ(frames.back().close_code(), close_code::rate_limit_abuse);
  EXPECT_EQ(frames.back().close_reason(),
            "control frame (ping/pong) rate limit exceeded for too long");
  EXPECT_FALSE(c->conn.wants_reads());
}

TEST(SessionLimits, ControlFramesWithinTheRateAreAlwaysAnswered) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.control_frames_per_second = 4;
  SessionHarness h(cfg);
  auto c = h.admin();
  for (int i = 0; i < 40; ++i) {  // 4 a second for 10 s: never over the rate
    c->send_frame(Opcode::ping, "k");
    auto frames = c->read_frames();
    ASSERT_EQ(frames.size(), 1u) << i;
    EXPECT_EQ(frames[0].opcode, Opcode::pong);
    FakeClock::advance(250ms);
  }
  EXPECT_EQ(c->conn.state(), Connection::State::open);
}

TEST(SessionLimits, ABatchCountsAsOneMessage) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.messages_per_second = 2;
  SessionHarness h(cfg);
  auto c = h.admin();  // one token left
  c->send(R"({"type":"batch","messages":[{"type":"ping"},{"type":"ping"},{"type":"ping"}]})");
  EXPECT_EQ(types_of(c->read()), (std::vector<std::string>{"pong", "pong", "pong"}));
  c->send(R"({"type":"ping"})");
  EXPECT_EQ(c->read_one().at("error"), "rate_limited");
}

TEST(SessionLimits, MessageOverMaxMessageBytesCloses1009) {
  SessionHarness h;
  auto c = h.admin();
  c->send(ping_of_size(1024));
  EXPECT_EQ(c->read_one().at("type"), "pong") << "exactly the limit is fine";
  c->send(ping_of_size(1025));
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), close_code::too_big);
  EXPECT_EQ(frames[0].close_reason(), "message exceeds max_message_bytes (1024)");
}

TEST(SessionLimits, BatchMayBeLargerThanMaxMessageBytesUpToMaxBatchBytes) {
  SessionHarness h;
  auto c = h.admin();
  const std::string big_ping = ping_of_size(900);
  c->send(R"({"type":"batch","messages":[)" + big_ping + "," + big_ping + "]}");
  EXPECT_EQ(types_of(c->read()), (std::vector<std::string>{"pong", "pong"}));
  std::string huge = R"({"type":"batch","messages":[)";
  for (int i = 0; i < 50; ++i) huge += std::string(i ? "," : "") + ping_of_size(1100);
  huge += "]}";
  ASSERT_GT(huge.size(), h.cfg.limits.max_batch_bytes);
  c->send(huge);
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), close_code::too_big);
}

TEST(SessionLimits, ReplyThatDoesNotFitTheOutboundQueueCloses4009) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.max_outbound_bytes = 600;
  SessionHarness h(cfg);
  auto c = h.admin();
  // The client reads nothing: pongs pile up until one does not fit.
  int sent = 0;
  while (c->conn.state() == Connection::State::open && sent < 100) {
    c->send(R"({"type":"ping","id":)" + std::to_string(sent++) + "}");
  }
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
  auto msgs = c->read_until_close(close_code::slow_consumer);
  EXPECT_EQ(msgs.size(), static_cast<std::size_t>(sent - 1)) << "every queued pong, then close";
  for (const auto& m : msgs) EXPECT_EQ(m.at("type"), "pong");
  EXPECT_GE(msgs.size(), 3u);
}

TEST(SessionLimits, AlertThatDoesNotFitTheOutboundQueueCloses4009) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.max_outbound_bytes = 1000;
  SessionHarness h(cfg);
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"alerts","id":1})");
  c->answer_alerts({});
  c->read();
  int id = 0;
  while (c->conn.state() == Connection::State::open && id < 100) h.publish(alert_event(++id, 1));
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
  auto frames = c->read_frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().close_code(), close_code::slow_consumer);
  EXPECT_EQ(frames.back().close_reason(), "outbound queue full (max_outbound_bytes): reconnect to resume");
  EXPECT_EQ(frames.size(), static_cast<std::size_t>(id)) << "alerts 1..id-1, then the close";
}

TEST(SessionLimits, TelemetryConflatesInsteadOfClosing) {
  auto cfg = SessionHarness::default_config();
  cfg.limits.max_outbound_bytes = 1000;
  SessionHarness h(cfg);
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","id":1})");
  c->read();
  for (int i = 1; i <= 50; ++i) h.publish(telemetry(1, {reading("t", i)}));
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  auto msgs = c->read();
  ASSERT_FALSE(msgs.empty());
  EXPECT_LT(msgs.size(), 50u);
  EXPECT_EQ(msgs.back().at("seq"), 50);
  EXPECT_EQ(msgs.back().at("telemetry").at("t").at("value"), 50);
  EXPECT_TRUE(msgs.back().contains("conflated"));
}

TEST(SessionLimits, RegistryCountsMessagesReceivedAndSent) {
  SessionHarness h;
  auto c = h.admin();
  c->send(R"({"type":"ping"})");
  c->send_frame(Opcode::binary, "x");
  c->send_frame(Opcode::ping, "");  // control frames are not messages
  c->read_frames();
  const auto s = h.registry.stats();
  EXPECT_EQ(s.messages_received, 3u);  // auth, ping, binary
  EXPECT_EQ(s.messages_sent, 2u);      // auth_response, pong (the binary frame closed: 1003)
  EXPECT_EQ(s.total_connections, 1u);
  EXPECT_EQ(s.active_connections, 1u);
}

// ------------------------------------------------------------------------------ deadlines

class SessionDeadlines : public ::testing::Test {
 protected:
  // Keepalive off unless a test is about it, so that each test sees only its own deadline.
  static config::Config no_keepalive() {
    auto cfg = SessionHarness::default_config();
    cfg.limits.idle_timeout = 0ms;
    return cfg;
  }
};

TEST_F(SessionDeadlines, WriteStallCloses4009AndIsCounted) {
  SessionHarness h(no_keepalive());
  auto c = h.admin();
  c->send(R"({"type":"ping"})");  // something waits for the peer
  c->conn.on_write_blocked();
  EXPECT_EQ(c->host.deadline, FakeClock::steady + h.cfg.limits.write_timeout);
  FakeClock::advance(h.cfg.limits.write_timeout - 1ms);
  c->conn.on_deadline();
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  FakeClock::advance(1ms);
  c->conn.on_deadline();
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
  EXPECT_EQ(h.registry.stats().write_timeouts, 1u);
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].close_code(), close_code::slow_consumer);
  EXPECT_EQ(frames[1].close_reason(),
            "write stalled: nothing read for limits.write_timeout; reconnect to resume");
}

TEST_F(SessionDeadlines, WriteProgressClearsTheStall) {
  SessionHarness h(no_keepalive());
  auto c = h.admin();
  c->send(R"({"type":"ping"})");
  c->conn.on_write_blocked();
  FakeClock::advance(20s);
  EXPECT_EQ(c->read().size(), 1u);  // the peer reads: on_written(n > 0)
  EXPECT_NE(c->host.deadline, FakeClock::steady - 20s + h.cfg.limits.write_timeout);
  FakeClock::advance(20s);
  c->conn.on_deadline();
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  EXPECT_EQ(h.registry.stats().write_timeouts, 0u);
  // A new stall starts a new full wait.
  c->conn.on_write_blocked();
  EXPECT_EQ(c->host.deadline, FakeClock::steady + h.cfg.limits.write_timeout);
}

TEST_F(SessionDeadlines, WriteOfNothingIsNoProgress) {
  SessionHarness h(no_keepalive());
  auto c = h.admin();
  c->conn.on_write_blocked();
  FakeClock::advance(20s);
  c->conn.on_written(0);
  c->conn.on_write_blocked();  // blocked again: the wait is not restarted
  FakeClock::advance(10s);
  c->conn.on_deadline();
  EXPECT_EQ(c->conn.state(), Connection::State::closing);
  EXPECT_EQ(h.registry.stats().write_timeouts, 1u);
}

TEST_F(SessionDeadlines, WriteTimeoutZeroDisablesTheStallDeadline) {
  auto cfg = no_keepalive();
  cfg.limits.write_timeout = 0ms;
  SessionHarness h(cfg);
  auto c = h.admin();
  const auto before = c->host.deadline;
  c->conn.on_write_blocked();
  EXPECT_EQ(c->host.deadline, before);
  FakeClock::advance(10min);
  c->conn.on_deadline();
  EXPECT_EQ(c->conn.state(), Connection::State::open);
}

TEST_F(SessionDeadlines, IdlePeerIsPingedThenClosed4010) {
  SessionHarness h;  // idle_timeout 45 s
  auto c = h.admin();
  EXPECT_EQ(c->host.deadline, FakeClock::steady + 45s);
  FakeClock::advance(45s);
  c->conn.on_deadline();
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, Opcode::ping);
  EXPECT_EQ(frames[0].payload, "");
  EXPECT_EQ(c->host.deadline, FakeClock::steady + 45s);
  FakeClock::advance(45s);
  c->conn.on_deadline();
  frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].close_code(), close_code::idle_timeout);
  EXPECT_EQ(frames[0].close_reason(), "no answer to the server's ping within limits.idle_timeout");
}

TEST_F(SessionDeadlines, AnyBytesFromThePeerResetTheKeepalive) {
  SessionHarness h;
  auto c = h.admin();
  FakeClock::advance(30s);
  c->send(R"({"type":"ping"})");
  c->read();
  FakeClock::advance(15s);  // 45 s after auth, 15 s after the last bytes
  c->conn.on_deadline();
  EXPECT_TRUE(c->read_frames().empty()) << "heard from 15 s ago: no ping";
  EXPECT_EQ(c->host.deadline, FakeClock::steady + 30s);
  FakeClock::advance(30s);
  c->conn.on_deadline();
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, Opcode::ping);
  // The pong (any bytes) answers it: no close at the next deadline, but a new ping later.
  FakeClock::advance(5s);
  c->send_frame(Opcode::pong, "");
  FakeClock::advance(40s);
  c->conn.on_deadline();
  EXPECT_TRUE(c->read_frames().empty());
  EXPECT_EQ(c->conn.state(), Connection::State::open);
  FakeClock::advance(5s);
  c->conn.on_deadline();
  frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].opcode, Opcode::ping);
}

TEST_F(SessionDeadlines, CloseLingersTwoSecondsThenAbortsTheTransport) {
  SessionHarness h(no_keepalive());
  auto c = h.admin();
  c->conn.close(close_code::going_away, "bye");
  EXPECT_EQ(c->host.deadline, FakeClock::steady + 2s);
  FakeClock::advance(1999ms);
  c->conn.on_deadline();
  EXPECT_EQ(c->host.aborts, 0);
  FakeClock::advance(1ms);
  c->conn.on_deadline();
  EXPECT_EQ(c->host.aborts, 1);
}

TEST_F(SessionDeadlines, CloseReplacesTheAuthTimeout) {
  SessionHarness h(no_keepalive());
  auto c = h.connect();
  c->conn.close(close_code::going_away, "bye");
  FakeClock::advance(h.cfg.auth.auth_timeout);
  c->conn.on_deadline();
  auto frames = c->read_frames();
  ASSERT_EQ(frames.size(), 1u) << "no second close for the auth timeout";
  EXPECT_EQ(frames[0].close_code(), close_code::going_away);
  EXPECT_EQ(c->host.aborts, 1);
}

TEST_F(SessionDeadlines, FinishUnregistersEverything) {
  SessionHarness h(no_keepalive());
  auto c = h.admin();
  c->send(R"({"type":"subscribe","channel":"telemetry","device_id":[1,2],"id":1})");
  c->send(R"({"type":"subscribe","channel":"devices","snapshot":false,"id":2})");
  c->read();
  EXPECT_EQ(h.shard.registrations(), 3u);
  c->conn.finish();
  EXPECT_EQ(c->conn.state(), Connection::State::closed);
  EXPECT_EQ(h.shard.registrations(), 0u);
  EXPECT_EQ(c->conn.subscription_count(), 0u);
  EXPECT_EQ(c->host.deadline, SteadyTime::max());
  EXPECT_EQ(h.registry.stats().active_connections, 0u);
  const int writes = c->host.wants_write_calls;
  h.publish(telemetry(1, {reading("t", 1)}));
  h.publish(status_event(1, model::DeviceStatus::online, model::DeviceStatus::offline));
  c->send(R"({"type":"ping"})");
  c->conn.close(close_code::normal, "");
  EXPECT_TRUE(c->read_frames().empty());
  EXPECT_EQ(c->host.wants_write_calls, writes);
  c->conn.finish();  // twice is harmless
  EXPECT_EQ(h.registry.stats().active_connections, 0u);
}

TEST_F(SessionDeadlines, FinishGivesBackThePerUserSlot) {
  auto cfg = no_keepalive();
  cfg.limits.max_connections_per_user = 1;
  SessionHarness h(cfg);
  auto a = h.authed(h.admin_token("ivy"));
  a->conn.finish();
  auto b = h.authed(h.admin_token("ivy"));
  EXPECT_TRUE(b->conn.authenticated());
}

}  // namespace
}  // namespace valtronics::session::test
