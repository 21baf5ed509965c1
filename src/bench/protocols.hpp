// Wire formats spoken by `valtronics bench`, without any I/O: client WebSocket frames and the
// handshake, a minimal HTTP/1.1 response head parser, MQTT 3.1.1 and NATS client packets and
// their parsers, and the telemetry payloads (padded to a chosen size) that every target carries.
// Parsers work in place on the caller's buffer (string_views into it): no copy, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace valtronics::bench {

// What the bench talks to. `valtronics` and `node` speak our protocol (JSON over WebSocket, HTTP
// ingest); `mqtt` is MQTT 3.1.1 over WebSocket (Mosquitto); `nats` is NATS over WebSocket.
enum class Target { valtronics, node, mqtt, nats };
std::string_view to_string(Target t);
std::optional<Target> parse_target(std::string_view s);
inline bool speaks_ours(Target t) { return t == Target::valtronics || t == Target::node; }

enum class Parse { ok, incomplete, malformed };

// ---- WebSocket (client side) -------------------------------------------------------------------

namespace ws {
constexpr unsigned kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA;

// Appends one masked client frame (FIN set). The mask key is 0, so the payload goes out as is.
void append_frame(std::string& out, unsigned opcode, std::string_view payload);
// Close frame with status 1000.
std::string close_frame();
// GET request upgrading to WebSocket; `subprotocol` empty for none.
std::string upgrade_request(std::string_view host_header, std::string_view path,
                            std::string_view subprotocol);

struct Frame {
  unsigned opcode = 0;
  bool fin = true;
  std::string_view payload;
};
// Parses one complete server frame at the start of `in`; `consumed` is its size.
Parse next_frame(std::string_view in, Frame& f, std::size_t& consumed);
}  // namespace ws

// ---- HTTP/1.1 responses ------------------------------------------------------------------------

struct HttpHead {
  int status = 0;
  std::size_t header_bytes = 0;          // through the blank line
  std::optional<std::size_t> content_length;
  bool chunked = false;
  bool close = false;                    // Connection: close
};
// Parses a response head at the start of `in`.
Parse parse_http_head(std::string_view in, HttpHead& h);
// A chunked body at the start of `in`: `consumed` is its length including the last chunk and
// trailers.
Parse chunked_body_length(std::string_view in, std::size_t& consumed);

// ---- MQTT 3.1.1 --------------------------------------------------------------------------------

namespace mqtt {
constexpr std::uint8_t kConnect = 1, kConnack = 2, kPublish = 3, kPuback = 4, kSubscribe = 8,
                       kSuback = 9, kPingreq = 12, kPingresp = 13, kDisconnect = 14;

void append_varint(std::string& out, std::size_t n);
// Decodes a remaining-length varint (1..4 bytes) at the start of `in`.
Parse read_varint(std::string_view in, std::size_t& value, std::size_t& bytes);

std::string connect(std::string_view client_id, std::uint16_t keepalive_s, bool clean_session);
std::string subscribe(std::uint16_t packet_id, std::string_view topic, std::uint8_t qos);
void append_publish(std::string& out, std::string_view topic, std::string_view payload);  // QoS 0
std::string pingreq();
std::string disconnect();

struct Packet {
  std::uint8_t type = 0, flags = 0;
  std::string_view body;  // after the fixed header
};
Parse next_packet(std::string_view in, Packet& p, std::size_t& consumed);

struct Publish {
  std::string_view topic, payload;
  std::uint16_t packet_id = 0;  // QoS > 0 only
  std::uint8_t qos = 0;
};
bool parse_publish(const Packet& p, Publish& out);
// CONNACK return code (0 = accepted), or -1 when malformed.
int connack_code(const Packet& p);
// SUBACK: packet id and the first granted QoS (0x80 = failure); false when malformed.
bool parse_suback(const Packet& p, std::uint16_t& packet_id, std::uint8_t& granted);

std::string topic(int device);  // valtronics/devices/{d}/telemetry
}  // namespace mqtt

// ---- NATS --------------------------------------------------------------------------------------

namespace nats {
struct Op {
  enum class Kind { info, msg, ping, pong, ok, err, other } kind = Kind::other;
  std::string_view line;  // the control line without CRLF
  std::string_view subject, sid, reply, payload;  // MSG
};
// Parses one protocol operation (a control line, and for MSG its payload and CRLF).
Parse next_op(std::string_view in, Op& op, std::size_t& consumed);

std::string connect();  // CONNECT {"verbose":false,"pedantic":false}\r\n
std::string sub(std::string_view subject, std::uint64_t sid);
void append_pub(std::string& out, std::string_view subject, std::string_view payload);

std::string subject(int device);  // valtronics.devices.{d}.telemetry
}  // namespace nats

// ---- telemetry payloads ------------------------------------------------------------------------

// The metric whose value is the reading's scheduled send time in µs since the epoch.
constexpr std::string_view kSeqMetric = "bench_seq";

// Extra metrics (value 0) so that each delivered update is about `target` bytes.
struct PayloadShape {
  std::vector<std::string> pads;  // metric names, unique, valid ([a-z0-9_]{1,64})
  std::size_t update_bytes = 0;   // expected size of a delivered telemetry_update
};
PayloadShape make_shape(std::size_t target_bytes);

// One item of an ingest batch: {"device_id":D,"telemetry":{"bench_seq":{"value":STAMP},...}}.
void append_ingest_item(std::string& out, int device, std::string_view stamp,
                        const PayloadShape& shape);
// The telemetry_update our server would send for that item (what the peers carry).
void append_update(std::string& out, int device, std::string_view stamp,
                   std::string_view iso_timestamp, std::uint64_t seq, const PayloadShape& shape);
// "2026-11-28T12:00:00.123Z" for µs since the epoch.
std::string iso_timestamp(std::int64_t us);

// The value of bench_seq in a telemetry_update, found without building a DOM.
std::optional<double> bench_value(std::string_view msg);

// How many updates a telemetry_update stands for: n when it ends `,"conflated":n}` (the server
// merged n updates of the device into this one, values the latest), else 1. Only the tail is
// looked at, where the server's queue splices the suffix in.
std::uint64_t conflated_count(std::string_view msg);

}  // namespace valtronics::bench
