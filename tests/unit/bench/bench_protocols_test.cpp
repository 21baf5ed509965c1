// The bench's wire formats: client WebSocket frames, HTTP reply heads, MQTT 3.1.1 and NATS
// packets, and the padded telemetry payloads.
#include "bench/protocols.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace vb = valtronics::bench;
using vb::Parse;

namespace {
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}
}  // namespace

TEST(BenchWs, ClientFramesAreMaskedWithAZeroKey) {
  std::string out;
  vb::ws::append_frame(out, vb::ws::kText, "hi");
  EXPECT_EQ(out, bytes({0x81, 0x82, 0, 0, 0, 0, 'h', 'i'}));
  out.clear();
  vb::ws::append_frame(out, vb::ws::kBinary, std::string(300, 'x'));
  EXPECT_EQ(out.substr(0, 8), bytes({0x82, 0x80 | 126, 0x01, 0x2C, 0, 0, 0, 0}));
  EXPECT_EQ(out.size(), 8u + 300u);
  EXPECT_EQ(vb::ws::close_frame(), bytes({0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8}));
}

TEST(BenchWs, ParsesServerFramesInPlace) {
  std::string in = bytes({0x82, 0x03, 'a', 'b', 'c', 0x01, 0x7E, 0x00});  // then a partial header
  vb::ws::Frame f;
  std::size_t n = 0;
  ASSERT_EQ(vb::ws::next_frame(in, f, n), Parse::ok);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(f.opcode, 2u);
  EXPECT_TRUE(f.fin);
  EXPECT_EQ(f.payload, "abc");
  EXPECT_EQ(f.payload.data(), in.data() + 2);  // zero copy
  EXPECT_EQ(vb::ws::next_frame(std::string_view(in).substr(5), f, n), Parse::incomplete);
  // 16-bit length, not FIN.
  std::string big = bytes({0x01, 126, 0x01, 0x00}) + std::string(256, 'z');
  ASSERT_EQ(vb::ws::next_frame(big, f, n), Parse::ok);
  EXPECT_FALSE(f.fin);
  EXPECT_EQ(f.payload.size(), 256u);
  EXPECT_EQ(vb::ws::next_frame(std::string_view(big).substr(0, 100), f, n), Parse::incomplete);
}

TEST(BenchWs, UpgradeRequestNamesTheSubprotocol) {
  auto r = vb::ws::upgrade_request("127.0.0.1:9001", "/", "mqtt");
  EXPECT_TRUE(r.starts_with("GET / HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"));
  EXPECT_NE(r.find("Sec-WebSocket-Protocol: mqtt\r\n"), std::string::npos);
  EXPECT_TRUE(r.ends_with("\r\n\r\n"));
  EXPECT_EQ(vb::ws::upgrade_request("h:1", "/ws", "").find("Sec-WebSocket-Protocol"),
            std::string::npos);
}

TEST(BenchHttp, ParsesReplyHeads) {
  vb::HttpHead h;
  std::string r = "HTTP/1.1 202 Accepted\r\ncontent-length: 5\r\nConnection: keep-alive\r\n\r\nhello";
  ASSERT_EQ(vb::parse_http_head(r, h), Parse::ok);
  EXPECT_EQ(h.status, 202);
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_FALSE(h.close);
  EXPECT_EQ(r.substr(h.header_bytes), "hello");
  EXPECT_EQ(vb::parse_http_head("HTTP/1.1 101 Switching", h), Parse::incomplete);
  ASSERT_EQ(vb::parse_http_head("HTTP/1.1 413 Too Large\r\nConnection: close\r\n\r\n", h), Parse::ok);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(vb::parse_http_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", h), Parse::ok);
  EXPECT_TRUE(h.chunked);
  EXPECT_EQ(vb::parse_http_head("SSH-2.0\r\n\r\n", h), Parse::malformed);
}

TEST(BenchHttp, MeasuresChunkedBodies) {
  std::size_t n = 0;
  std::string body = "5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\nNEXT";
  ASSERT_EQ(vb::chunked_body_length(body, n), Parse::ok);
  EXPECT_EQ(body.substr(n), "NEXT");
  EXPECT_EQ(vb::chunked_body_length("5\r\nhel", n), Parse::incomplete);
  EXPECT_EQ(vb::chunked_body_length("5\r\nhello\r\n0\r\n", n), Parse::incomplete);
  EXPECT_EQ(vb::chunked_body_length("zz\r\n", n), Parse::malformed);
}

TEST(BenchMqtt, RemainingLengthVarint) {
  for (std::size_t v : {0u, 1u, 127u, 128u, 16383u, 16384u, 2097151u, 2097152u, 268435455u}) {
    std::string s;
    vb::mqtt::append_varint(s, v);
    std::size_t got = 0, used = 0;
    ASSERT_EQ(vb::mqtt::read_varint(s, got, used), Parse::ok) << v;
    EXPECT_EQ(got, v);
    EXPECT_EQ(used, s.size());
  }
  std::string s;
  vb::mqtt::append_varint(s, 321);
  EXPECT_EQ(s, bytes({0xC1, 0x02}));
  std::size_t got = 0, used = 0;
  EXPECT_EQ(vb::mqtt::read_varint(bytes({0x80}), got, used), Parse::incomplete);
  EXPECT_EQ(vb::mqtt::read_varint(bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x01}), got, used), Parse::malformed);
}

TEST(BenchMqtt, ConnectAndSubscribePackets) {
  auto c = vb::mqtt::connect("vb-1", 60, true);
  EXPECT_EQ(c, bytes({0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 4, 'v', 'b', '-', '1'}));
  auto s = vb::mqtt::subscribe(1, "a/b", 0);
  EXPECT_EQ(s, bytes({0x82, 8, 0, 1, 0, 3, 'a', '/', 'b', 0}));
  EXPECT_EQ(vb::mqtt::topic(7), "valtronics/devices/7/telemetry");
}

TEST(BenchMqtt, ParsesPublishConnackSuback) {
  std::string stream;
  std::string payload(200, 'p');
  vb::mqtt::append_publish(stream, "t/1", payload);
  stream += bytes({0x20, 0x02, 0x00, 0x00});        // CONNACK accepted
  stream += bytes({0x90, 0x03, 0x00, 0x01, 0x00});  // SUBACK id 1, QoS 0
  stream += bytes({0x30, 0x05, 0x00});              // a PUBLISH cut short

  std::string_view in(stream);
  vb::mqtt::Packet p;
  std::size_t n = 0;
  ASSERT_EQ(vb::mqtt::next_packet(in, p, n), Parse::ok);
  EXPECT_EQ(p.type, vb::mqtt::kPublish);
  vb::mqtt::Publish pub;
  ASSERT_TRUE(vb::mqtt::parse_publish(p, pub));
  EXPECT_EQ(pub.topic, "t/1");
  EXPECT_EQ(pub.payload, payload);
  EXPECT_EQ(pub.qos, 0);
  EXPECT_EQ(n, 1u + 2u + 2u + 3u + 200u);  // 205 needs a two-byte remaining length
  in.remove_prefix(n);

  ASSERT_EQ(vb::mqtt::next_packet(in, p, n), Parse::ok);
  EXPECT_EQ(vb::mqtt::connack_code(p), 0);
  in.remove_prefix(n);

  ASSERT_EQ(vb::mqtt::next_packet(in, p, n), Parse::ok);
  std::uint16_t id = 0;
  std::uint8_t granted = 0xFF;
  ASSERT_TRUE(vb::mqtt::parse_suback(p, id, granted));
  EXPECT_EQ(id, 1);
  EXPECT_EQ(granted, 0);
  in.remove_prefix(n);

  EXPECT_EQ(vb::mqtt::next_packet(in, p, n), Parse::incomplete);
  EXPECT_EQ(vb::mqtt::next_packet("", p, n), Parse::incomplete);
}

TEST(BenchMqtt, PublishWithQos1CarriesAPacketId) {
  std::string s = bytes({0x32, 0x08, 0x00, 0x01, 'x', 0x00, 0x2A, 'a', 'b', 'c'});
  vb::mqtt::Packet p;
  std::size_t n = 0;
  ASSERT_EQ(vb::mqtt::next_packet(s, p, n), Parse::ok);
  vb::mqtt::Publish pub;
  ASSERT_TRUE(vb::mqtt::parse_publish(p, pub));
  EXPECT_EQ(pub.qos, 1);
  EXPECT_EQ(pub.packet_id, 42);
  EXPECT_EQ(pub.payload, "abc");
  // A topic length beyond the packet is malformed.
  std::string bad = bytes({0x30, 0x03, 0x00, 0x09, 'x'});
  ASSERT_EQ(vb::mqtt::next_packet(bad, p, n), Parse::ok);
  EXPECT_FALSE(vb::mqtt::parse_publish(p, pub));
  EXPECT_EQ(vb::mqtt::connack_code(p), -1);
}

TEST(BenchNats, ParsesMsgWithAndWithoutReply) {
  std::string s = "MSG valtronics.devices.1.telemetry 1 5\r\nhello\r\n"
                  "MSG a.b 22 _INBOX.x 3\r\nabc\r\nPING\r\n+OK\r\n-ERR 'Authorization Violation'\r\n"
                  "INFO {\"server_id\":\"x\"}\r\nPONG\r\nMSG a 1 10\r\n0123";
  std::string_view in(s);
  vb::nats::Op op;
  std::size_t n = 0;
  ASSERT_EQ(vb::nats::next_op(in, op, n), Parse::ok);
  EXPECT_EQ(op.kind, vb::nats::Op::Kind::msg);
  EXPECT_EQ(op.subject, "valtronics.devices.1.telemetry");
  EXPECT_EQ(op.sid, "1");
  EXPECT_EQ(op.reply, "");
  EXPECT_EQ(op.payload, "hello");
  EXPECT_EQ(op.payload.data(), s.data() + s.find("hello"));  // zero copy
  in.remove_prefix(n);
  ASSERT_EQ(vb::nats::next_op(in, op, n), Parse::ok);
  EXPECT_EQ(op.reply, "_INBOX.x");
  EXPECT_EQ(op.sid, "22");
  EXPECT_EQ(op.payload, "abc");
  in.remove_prefix(n);
  using K = vb::nats::Op::Kind;
  for (K k : {K::ping, K::ok, K::err, K::info, K::pong}) {
    ASSERT_EQ(vb::nats::next_op(in, op, n), Parse::ok);
    EXPECT_EQ(op.kind, k) << op.line;
    in.remove_prefix(n);
  }
  EXPECT_EQ(vb::nats::next_op(in, op, n), Parse::incomplete);  // payload not all there
  EXPECT_EQ(vb::nats::next_op("MSG a 1", op, n), Parse::incomplete);
  EXPECT_EQ(vb::nats::next_op("MSG a\r\n", op, n), Parse::malformed);
  EXPECT_EQ(vb::nats::next_op("MSG a 1 x\r\n", op, n), Parse::malformed);
  EXPECT_EQ(vb::nats::next_op("MSG a 1 2\r\nabXY", op, n), Parse::malformed);
}

TEST(BenchNats, ClientOperations) {
  EXPECT_EQ(vb::nats::connect(), "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
  EXPECT_EQ(vb::nats::sub("a.b", 3), "SUB a.b 3\r\n");
  std::string out;
  vb::nats::append_pub(out, "a.b", "xyz");
  EXPECT_EQ(out, "PUB a.b 3\r\nxyz\r\n");
  EXPECT_EQ(vb::nats::subject(12), "valtronics.devices.12.telemetry");
}

TEST(BenchPayload, UpdatesArePaddedToAboutTheTarget) {
  for (std::size_t target : {100u, 300u, 1000u, 4000u}) {
    auto shape = vb::make_shape(target);
    std::string u;
    vb::append_update(u, 1, "1764331200000000", "2026-11-28T12:00:00.000Z", 10000, shape);
    EXPECT_EQ(u.size(), shape.update_bytes);
    if (target >= 300) {
      EXPECT_LE(u.size(), target) << target;
      EXPECT_GE(u.size() + 60, target) << target;  // within one extra metric's overhead
    }
    auto v = boost::json::parse(u);
    EXPECT_EQ(v.at("type").as_string(), "telemetry_update");
    EXPECT_EQ(v.at("telemetry").as_object().size(), 1 + shape.pads.size());
    ASSERT_TRUE(vb::bench_value(u));
    EXPECT_EQ(*vb::bench_value(u), 1764331200000000.0);
    for (const auto& pad : shape.pads) {
      EXPECT_LE(pad.size(), 64u);
      EXPECT_EQ(pad.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"), std::string::npos);
    }
  }
}

TEST(BenchPayload, IngestItemsAreValidJson) {
  auto shape = vb::make_shape(300);
  std::string item;
  vb::append_ingest_item(item, 3, "1764331200000000", shape);
  auto v = boost::json::parse(item);
  EXPECT_EQ(v.at("device_id").as_int64(), 3);
  EXPECT_EQ(v.at("telemetry").at("bench_seq").at("value").to_number<double>(), 1764331200000000.0);
  EXPECT_EQ(vb::iso_timestamp(1764331200123456), "2025-11-28T12:00:00.123Z");
}

TEST(BenchPayload, TargetNames) {
  EXPECT_EQ(vb::parse_target("nats"), vb::Target::nats);
  EXPECT_FALSE(vb::parse_target("kafka"));
  EXPECT_TRUE(vb::speaks_ours(vb::Target::node));
  EXPECT_FALSE(vb::speaks_ours(vb::Target::mqtt));
}
