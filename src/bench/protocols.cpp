// Wire formats of the bench: see protocols.hpp.
#include "bench/protocols.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>

namespace valtronics::bench {

std::string_view to_string(Target t) {
  switch (t) {
    case Target::valtronics: return "valtronics";
    case Target::node: return "node";
    case Target::mqtt: return "mqtt";
    case Target::nats: return "nats";
  }
  return "?";
}

std::optional<Target> parse_target(std::string_view s) {
  for (Target t : {Target::valtronics, Target::node, Target::mqtt, Target::nats})
    if (s == to_string(t)) return t;
  return std::nullopt;
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <class T>
bool to_number(std::string_view s, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc{} && p == s.data() + s.size();
}

std::uint8_t byte(std::string_view s, std::size_t i) { return static_cast<std::uint8_t>(s[i]); }

void append_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}
void append_mqtt_string(std::string& out, std::string_view s) {
  append_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}
}  // namespace

// ---- WebSocket ---------------------------------------------------------------------------------

namespace ws {

void append_frame(std::string& out, unsigned opcode, std::string_view payload) {
  out.push_back(static_cast<char>(0x80 | (opcode & 0x0F)));
  std::size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(0x80 | 126));
    append_u16(out, static_cast<std::uint16_t>(n));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((std::uint64_t{n} >> (8 * i)) & 0xFF));
  }
  out.append(4, '\0');  // mask key 0: XOR leaves the payload unchanged
  out.append(payload);
}

std::string close_frame() {
  std::string out;
  append_frame(out, kClose, std::string_view("\x03\xE8", 2));
  return out;
}

std::string upgrade_request(std::string_view host_header, std::string_view path,
                            std::string_view subprotocol) {
  std::string r;
  r.reserve(256);
  r += "GET ";
  r += path.empty() ? std::string_view("/") : path;
  r += " HTTP/1.1\r\nHost: ";
  r += host_header;
  r += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (!subprotocol.empty()) {
    r += "Sec-WebSocket-Protocol: ";
    r += subprotocol;
    r += "\r\n";
  }
  r += "\r\n";
  return r;
}

Parse next_frame(std::string_view in, Frame& f, std::size_t& consumed) {
  if (in.size() < 2) return Parse::incomplete;
  std::uint8_t b0 = byte(in, 0), b1 = byte(in, 1);
  std::uint64_t plen = b1 & 0x7F;
  std::size_t hdr = 2;
  if (plen == 126) {
    if (in.size() < 4) return Parse::incomplete;
    plen = (std::uint64_t{byte(in, 2)} << 8) | byte(in, 3);
    hdr = 4;
  } else if (plen == 127) {
    if (in.size() < 10) return Parse::incomplete;
    plen = 0;
    for (int i = 0; i < 8; ++i) plen = (plen << 8) | byte(in, 2 + i);
    hdr = 10;
    if (plen > (std::uint64_t{1} << 40)) return Parse::malformed;
  }
  if (b1 & 0x80) hdr += 4;  // a server must not mask; skip the key if one does (not unmasked)
  if (in.size() < hdr || in.size() - hdr < plen) return Parse::incomplete;
  f.opcode = b0 & 0x0F;
  f.fin = (b0 & 0x80) != 0;
  f.payload = in.substr(hdr, static_cast<std::size_t>(plen));
  consumed = hdr + static_cast<std::size_t>(plen);
  return Parse::ok;
}

}  // namespace ws

// ---- HTTP --------------------------------------------------------------------------------------

Parse parse_http_head(std::string_view in, HttpHead& h) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return in.size() > 64 * 1024 ? Parse::malformed : Parse::incomplete;
  h = {};
  h.header_bytes = end + 4;
  std::string_view head = in.substr(0, end);
  auto eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  // HTTP/1.1 202 Accepted
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) return Parse::malformed;
  if (!to_number(status_line.substr(9, 3), h.status)) return Parse::malformed;
  if (status_line.substr(0, 8) == "HTTP/1.0") h.close = true;
  std::size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    auto next = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, next == std::string_view::npos ? head.npos : next - pos);
    pos = next == std::string_view::npos ? head.size() : next + 2;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = trim(line.substr(0, colon)), value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::size_t n = 0;
      if (!to_number(value, n)) return Parse::malformed;
      h.content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      if (value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked")) h.chunked = true;
    } else if (iequals(name, "connection")) {
      if (iequals(value, "close")) h.close = true;
      else if (iequals(value, "keep-alive")) h.close = false;
    }
  }
  return Parse::ok;
}

Parse chunked_body_length(std::string_view in, std::size_t& consumed) {
  std::size_t pos = 0;
  for (;;) {
    auto eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return Parse::incomplete;
    std::string_view size_text = in.substr(pos, eol - pos);
    size_text = size_text.substr(0, size_text.find(';'));
    std::size_t size = 0;
    if (!to_number(trim(size_text), size, 16)) return Parse::malformed;
    pos = eol + 2;
    if (size == 0) {
      // Trailers, then an empty line.
      for (;;) {
        auto e = in.find("\r\n", pos);
        if (e == std::string_view::npos) return Parse::incomplete;
        bool empty = e == pos;
        pos = e + 2;
        if (empty) {
          consumed = pos;
          return Parse::ok;
        }
      }
    }
    if (in.size() < pos + size + 2) return Parse::incomplete;
    pos += size + 2;
  }
}

// ---- MQTT --------------------------------------------------------------------------------------

namespace mqtt {

void append_varint(std::string& out, std::size_t n) {
  do {
    auto b = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (n > 0);
}

Parse read_varint(std::string_view in, std::size_t& value, std::size_t& bytes) {
  value = 0;
  std::size_t mult = 1;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i >= in.size()) return Parse::incomplete;
    std::uint8_t b = byte(in, i);
    value += (b & 0x7F) * mult;
    mult *= 128;
    if ((b & 0x80) == 0) {
      bytes = i + 1;
      return Parse::ok;
    }
  }
  return Parse::malformed;
}

namespace {
std::string packet(std::uint8_t first, const std::string& body) {
  std::string out;
  out.push_back(static_cast<char>(first));
  append_varint(out, body.size());
  out += body;
  return out;
}
}  // namespace

std::string connect(std::string_view client_id, std::uint16_t keepalive_s, bool clean_session) {
  std::string body;
  append_mqtt_string(body, "MQTT");
  body.push_back(4);  // protocol level 3.1.1
  body.push_back(static_cast<char>(clean_session ? 0x02 : 0x00));
  append_u16(body, keepalive_s);
  append_mqtt_string(body, client_id);
  return packet(kConnect << 4, body);
}

std::string subscribe(std::uint16_t packet_id, std::string_view topic, std::uint8_t qos) {
  std::string body;
  append_u16(body, packet_id);
  append_mqtt_string(body, topic);
  body.push_back(static_cast<char>(qos));
  return packet((kSubscribe << 4) | 0x02, body);
}

void append_publish(std::string& out, std::string_view topic, std::string_view payload) {
  out.push_back(static_cast<char>(kPublish << 4));
  append_varint(out, 2 + topic.size() + payload.size());
  append_mqtt_string(out, topic);
  out.append(payload);
}

std::string pingreq() { return std::string("\xC0\x00", 2); }
std::string disconnect() { return std::string("\xE0\x00", 2); }

Parse next_packet(std::string_view in, Packet& p, std::size_t& consumed) {
  if (in.empty()) return Parse::incomplete;
  std::size_t len = 0, vb = 0;
  Parse r = read_varint(in.substr(1), len, vb);
  if (r != Parse::ok) return r;
  if (in.size() - 1 - vb < len) return Parse::incomplete;
  p.type = byte(in, 0) >> 4;
  p.flags = byte(in, 0) & 0x0F;
  p.body = in.substr(1 + vb, len);
  consumed = 1 + vb + len;
  return Parse::ok;
}

bool parse_publish(const Packet& p, Publish& out) {
  if (p.type != kPublish || p.body.size() < 2) return false;
  std::size_t tlen = (std::size_t{byte(p.body, 0)} << 8) | byte(p.body, 1);
  if (p.body.size() < 2 + tlen) return false;
  out.topic = p.body.substr(2, tlen);
  out.qos = (p.flags >> 1) & 0x03;
  std::size_t pos = 2 + tlen;
  out.packet_id = 0;
  if (out.qos > 0) {
    if (p.body.size() < pos + 2) return false;
    out.packet_id = static_cast<std::uint16_t>((byte(p.body, pos) << 8) | byte(p.body, pos + 1));
    pos += 2;
  }
  out.payload = p.body.substr(pos);
  return true;
}

int connack_code(const Packet& p) {
  if (p.type != kConnack || p.body.size() != 2) return -1;
  return byte(p.body, 1);
}

bool parse_suback(const Packet& p, std::uint16_t& packet_id, std::uint8_t& granted) {
  if (p.type != kSuback || p.body.size() < 3) return false;
  packet_id = static_cast<std::uint16_t>((byte(p.body, 0) << 8) | byte(p.body, 1));
  granted = byte(p.body, 2);
  return true;
}

std::string topic(int device) { return "valtronics/devices/" + std::to_string(device) + "/telemetry"; }

}  // namespace mqtt

// ---- NATS --------------------------------------------------------------------------------------

namespace nats {

namespace {
// Splits `line` at spaces/tabs into at most `max` tokens; returns how many.
std::size_t split(std::string_view line, std::string_view* out, std::size_t max) {
  std::size_t n = 0, pos = 0;
  while (pos < line.size() && n < max) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    if (pos >= line.size()) break;
    std::size_t start = pos;
    while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t') ++pos;
    out[n++] = line.substr(start, pos - start);
  }
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
  return pos < line.size() ? max + 1 : n;  // more tokens than allowed
}

bool keyword(std::string_view line, std::string_view kw) {
  if (line.size() < kw.size() || !iequals(line.substr(0, kw.size()), kw)) return false;
  return line.size() == kw.size() || line[kw.size()] == ' ' || line[kw.size()] == '\t';
}
}  // namespace

Parse next_op(std::string_view in, Op& op, std::size_t& consumed) {
  auto eol = in.find("\r\n");
  if (eol == std::string_view::npos) return in.size() > 1024 * 1024 ? Parse::malformed : Parse::incomplete;
  op = {};
  op.line = in.substr(0, eol);
  std::size_t after = eol + 2;
  if (keyword(op.line, "MSG")) {
    std::string_view t[5];
    std::size_t n = split(op.line.substr(3), t, 4);
    if (n != 3 && n != 4) return Parse::malformed;
    std::size_t size = 0;
    if (!to_number(t[n - 1], size)) return Parse::malformed;
    if (in.size() < after + size + 2) return Parse::incomplete;
    if (in.substr(after + size, 2) != "\r\n") return Parse::malformed;
    op.kind = Op::Kind::msg;
    op.subject = t[0];
    op.sid = t[1];
    if (n == 4) op.reply = t[2];
    op.payload = in.substr(after, size);
    consumed = after + size + 2;
    return Parse::ok;
  }
  consumed = after;
  if (keyword(op.line, "PING")) op.kind = Op::Kind::ping;
  else if (keyword(op.line, "PONG")) op.kind = Op::Kind::pong;
  else if (keyword(op.line, "INFO")) op.kind = Op::Kind::info;
  else if (keyword(op.line, "+OK")) op.kind = Op::Kind::ok;
  else if (keyword(op.line, "-ERR")) op.kind = Op::Kind::err;
  else op.kind = Op::Kind::other;
  return Parse::ok;
}

std::string connect() { return "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"; }

std::string sub(std::string_view subject, std::uint64_t sid) {
  std::string out = "SUB ";
  out += subject;
  out += ' ';
  out += std::to_string(sid);
  out += "\r\n";
  return out;
}

void append_pub(std::string& out, std::string_view subject, std::string_view payload) {
  out += "PUB ";
  out += subject;
  out += ' ';
  char num[24];
  auto [p, ec] = std::to_chars(num, num + sizeof num, payload.size());
  out.append(num, p);
  out += "\r\n";
  out += payload;
  out += "\r\n";
}

std::string subject(int device) { return "valtronics.devices." + std::to_string(device) + ".telemetry"; }

}  // namespace nats

// ---- telemetry payloads ------------------------------------------------------------------------

namespace {
void append_int(std::string& out, std::uint64_t v) {
  char num[24];
  auto [p, ec] = std::to_chars(num, num + sizeof num, v);
  out.append(num, p);
}
}  // namespace

void append_ingest_item(std::string& out, int device, std::string_view stamp,
                        const PayloadShape& shape) {
  out += "{\"device_id\":";
  append_int(out, static_cast<std::uint64_t>(device));
  out += ",\"telemetry\":{\"bench_seq\":{\"value\":";
  out += stamp;
  out += '}';
  for (const auto& pad : shape.pads) {
    out += ",\"";
    out += pad;
    out += "\":{\"value\":0}";
  }
  out += "}}";
}

// Same bytes as src/protocol/serialize.cpp's telemetry_update plus the `,"seq":N` each
// connection's queue splices in.
void append_update(std::string& out, int device, std::string_view stamp,
                   std::string_view iso_timestamp, std::uint64_t seq, const PayloadShape& shape) {
  out += "{\"type\":\"telemetry_update\",\"channel\":\"telemetry\",\"device_id\":";
  append_int(out, static_cast<std::uint64_t>(device));
  out += ",\"telemetry\":{\"bench_seq\":{\"value\":";
  out += stamp;
  out += ",\"timestamp\":\"";
  out += iso_timestamp;
  out += "\"}";
  for (const auto& pad : shape.pads) {
    out += ",\"";
    out += pad;
    out += "\":{\"value\":0,\"timestamp\":\"";
    out += iso_timestamp;
    out += "\"}";
  }
  out += "},\"seq\":";
  append_int(out, seq);
  out += '}';
}

std::string iso_timestamp(std::int64_t us) {
  using namespace std::chrono;
  sys_time<milliseconds> t{milliseconds(us / 1000)};
  auto day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss<milliseconds> tod{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<int>(tod.subseconds().count()));
  return buf;
}

PayloadShape make_shape(std::size_t target) {
  PayloadShape shape;
  // A typical update: 16-digit stamp, device 1, a 5-digit seq.
  const std::string stamp = "1764331200000000", ts = "2026-11-28T12:00:00.000Z";
  auto measure = [&] {
    std::string s;
    append_update(s, 1, stamp, ts, 10'000, shape);
    return s.size();
  };
  const std::size_t base = measure();
  // Cost of one more metric beyond its name.
  shape.pads.push_back("p");
  const std::size_t fixed = measure() - base - 1;
  shape.pads.clear();
  constexpr std::size_t kMaxName = 64, kMinName = 8;
  if (target >= base + fixed + kMinName) {
    // As few metrics as names of at most 64 characters allow, their names sharing the rest.
    std::size_t room = target - base;
    std::size_t k = (room + fixed + kMaxName - 1) / (fixed + kMaxName);
    while (k > 1 && room < k * (fixed + kMinName)) --k;
    std::size_t names = room - k * fixed;
    for (std::size_t i = 0; i < k; ++i) {
      std::size_t len = std::min(kMaxName, names / k + (i < names % k ? 1 : 0));
      std::string name = "p" + std::to_string(i) + "_";
      name.append(len > name.size() ? len - name.size() : 1, 'x');
      shape.pads.push_back(std::move(name));
    }
  }
  shape.update_bytes = measure();
  return shape;
}

std::optional<double> bench_value(std::string_view msg) {
  constexpr std::string_view metric = "\"bench_seq\"";
  constexpr std::string_view key = "\"value\":";
  auto m = msg.find(metric);
  if (m == std::string_view::npos) return std::nullopt;
  auto k = msg.find(key, m + metric.size());
  if (k == std::string_view::npos) return std::nullopt;
  const char* p = msg.data() + k + key.size();
  const char* end = msg.data() + msg.size();
  while (p < end && *p == ' ') ++p;
  double v = 0;
  auto [ptr, ec] = std::from_chars(p, end, v);
  if (ec != std::errc{}) return std::nullopt;
  return v;
}

std::uint64_t conflated_count(std::string_view msg) {
  constexpr std::string_view key = "\"conflated\":";
  // `,"seq":S,"conflated":n}`: the key sits within the last few dozen bytes.
  constexpr std::size_t kTail = 48;
  std::string_view tail = msg.substr(msg.size() > kTail ? msg.size() - kTail : 0);
  auto k = tail.rfind(key);
  if (k == std::string_view::npos) return 1;
  const char* p = tail.data() + k + key.size();
  const char* end = tail.data() + tail.size();
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(p, end, n);
  if (ec != std::errc{} || n == 0) return 1;
  return n;
}

}  // namespace valtronics::bench
