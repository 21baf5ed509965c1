// Fuzz target: the WebSocket frame reader (protocol::ws::FrameReader) and the close payload
// helpers, on bytes as a client could send them.
//
// Input layout:
//   byte 0       bits 0-2: max_message_bytes (see kMaxMessage); bit 3: release_idle() after each
//                drain; bits 4-7: n, the number of chunk-size bytes that follow
//   bytes 1..n   chunk sizes, used in turn (0 = an empty append)
//   rest         the byte stream from the client
// (With n = 0 the stream is appended in one piece.)
//
// Checked: the reader's results, fed in those chunks, equal those of an independent reference
// decoder written here from RFC 6455 and the reader's documented rules (same messages and
// payloads, same error code at the same point); payloads never exceed their limit; text is valid
// UTF-8; a close payload handed out parses; errors are sticky and free the buffers; what stays
// buffered is bounded by the limit; every message re-encoded as a client frame reads back the
// same. parse_close_payload, close_payload and valid_utf8 are checked against the reference too.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "protocol/ws_frame.hpp"

namespace ws = valtronics::protocol::ws;

namespace {

constexpr std::size_t kMaxMessage[8] = {0, 1, 16, 125, 126, 1000, 65535, 65536};
constexpr std::size_t kMaxControl = 125;

struct Outcome {
  ws::ReadResult::Kind kind;
  unsigned opcode = 0;
  std::string payload;
  std::uint16_t close_code = 0;
  bool operator==(const Outcome&) const = default;
};

std::string describe(const Outcome& o) {
  std::string s = o.kind == ws::ReadResult::Kind::message ? "message"
                  : o.kind == ws::ReadResult::Kind::error ? "error"
                                                          : "need_more";
  s += " op=" + std::to_string(o.opcode) + " len=" + std::to_string(o.payload.size()) +
       " code=" + std::to_string(o.close_code) + " payload=";
  static const char* hex = "0123456789abcdef";
  for (std::size_t i = 0; i < o.payload.size() && i < 16; ++i) {
    s += hex[static_cast<unsigned char>(o.payload[i]) >> 4];
    s += hex[static_cast<unsigned char>(o.payload[i]) & 15];
  }
  if (o.payload.size() > 16) s += "...";
  return s;
}

bool valid_close_code(unsigned c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

bool reference_close_payload_ok(std::string_view p) {
  if (p.empty()) return true;
  if (p.size() < 2) return false;
  const unsigned code = (static_cast<unsigned char>(p[0]) << 8) | static_cast<unsigned char>(p[1]);
  return valid_close_code(code) && fuzz::reference_utf8(p.substr(2));
}

// The reference decoder: the whole stream at once, no buffer management, every rule spelled out
// in the order the reader documents (what the first two bytes decide, then the length, then the
// payload). Returns the messages, then one need_more or error.
std::vector<Outcome> reference_decode(std::string_view in, std::size_t max) {
  std::vector<Outcome> out;
  std::size_t pos = 0;
  bool fragmented = false;
  unsigned frag_op = 0;
  std::string message;
  auto error = [&](std::uint16_t code) {
    out.push_back({ws::ReadResult::Kind::error, 0, {}, code});
    return out;
  };
  for (;;) {
    const std::size_t avail = in.size() - pos;
    if (avail < 2) break;
    const auto b0 = static_cast<unsigned char>(in[pos]);
    const auto b1 = static_cast<unsigned char>(in[pos + 1]);
    const bool fin = b0 & 0x80;
    const unsigned op = b0 & 0x0F;
    const bool control = op >= 0x8;
    if (b0 & 0x70) return error(1002);
    if (!(op <= 2 || (op >= 8 && op <= 10))) return error(1002);
    if (!(b1 & 0x80)) return error(1002);
    if (control && !fin) return error(1002);
    if (op == 0 && !fragmented) return error(1002);
    if ((op == 1 || op == 2) && fragmented) return error(1002);
    const unsigned len7 = b1 & 0x7F;
    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (avail < 2 + ext) break;
    unsigned __int128 len = len7;
    if (ext) {
      len = 0;
      for (std::size_t i = 0; i < ext; ++i) len = len * 256 + static_cast<unsigned char>(in[pos + 2 + i]);
      if (ext == 8 && len >= (static_cast<unsigned __int128>(1) << 63)) return error(1002);
    }
    if (control && len > kMaxControl) return error(1002);
    if (!control && (op == 0 ? message.size() : 0) + len > max) return error(1009);
    if (avail < 2 + ext + 4 + len) break;
    const char* key = in.data() + pos + 2 + ext;
    std::string payload(in.substr(pos + 2 + ext + 4, static_cast<std::size_t>(len)));
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ key[i % 4]);
    pos += 2 + ext + 4 + static_cast<std::size_t>(len);
    if (control) {
      if (op == 8 && !reference_close_payload_ok(payload)) return error(1002);
      out.push_back({ws::ReadResult::Kind::message, op, std::move(payload), 0});
      continue;
    }
    if (op != 0) {
      frag_op = op;
      message.clear();
    }
    message += payload;
    fragmented = !fin;
    if (!fin) continue;
    if (frag_op == 1 && !fuzz::reference_utf8(message)) return error(1007);
    out.push_back({ws::ReadResult::Kind::message, frag_op, std::move(message), 0});
    message.clear();
  }
  out.push_back({ws::ReadResult::Kind::need_more, 0, {}, 0});
  return out;
}

void check_result(const ws::ReadResult& r, std::size_t max) {
  using Kind = ws::ReadResult::Kind;
  if (r.kind == Kind::message) {
    const auto op = static_cast<unsigned>(r.opcode);
    FUZZ_CHECK(op == 1 || op == 2 || op == 8 || op == 9 || op == 10, "opcode %u handed out", op);
    if (op >= 8) {
      FUZZ_CHECK(r.payload.size() <= kMaxControl, "control payload of %zu bytes", r.payload.size());
    } else {
      FUZZ_CHECK(r.payload.size() <= max, "payload of %zu bytes over the limit %zu",
                 r.payload.size(), max);
    }
    if (op == 1) FUZZ_CHECK(fuzz::reference_utf8(r.payload), "text message is not valid UTF-8");
    if (op == 8) {
      std::uint16_t code = 0;
      std::string reason;
      FUZZ_CHECK(ws::parse_close_payload(r.payload, code, reason), "close payload handed out is invalid");
    }
  } else if (r.kind == Kind::error) {
    FUZZ_CHECK(r.close_code == 1002 || r.close_code == 1007 || r.close_code == 1009,
               "error close code %u", r.close_code);
    FUZZ_CHECK(!r.reason.empty(), "error without a reason");
    FUZZ_CHECK(r.reason.size() <= 123 && fuzz::reference_utf8(r.reason),
               "reason does not fit a close frame");
  }
}

Outcome to_outcome(const ws::ReadResult& r) {
  return {r.kind, r.kind == ws::ReadResult::Kind::message ? static_cast<unsigned>(r.opcode) : 0u,
          std::string(r.payload), r.kind == ws::ReadResult::Kind::error ? r.close_code : std::uint16_t{0}};
}

// Drains the reader until need_more or error, appending to `out`. Returns false once in error.
bool drain(ws::FrameReader& reader, std::size_t max, std::vector<Outcome>& out) {
  for (;;) {
    ws::ReadResult r = reader.next();
    check_result(r, max);
    if (r.kind == ws::ReadResult::Kind::message) {
      out.push_back(to_outcome(r));
      continue;
    }
    if (r.kind == ws::ReadResult::Kind::error) {
      out.push_back(to_outcome(r));
      // Sticky, and nothing more is held or accepted.
      FUZZ_CHECK(reader.buffered() == 0, "%zu bytes still buffered after an error", reader.buffered());
      ws::ReadResult again = reader.next();
      FUZZ_CHECK(again.kind == r.kind && again.close_code == r.close_code && again.reason == r.reason,
                 "error is not sticky");
      reader.append("\x81\x80\0\0\0\0", 6);
      FUZZ_CHECK(reader.buffered() == 0, "append after an error buffered bytes");
      FUZZ_CHECK(reader.next().close_code == r.close_code, "error is not sticky after append");
      return false;
    }
    // need_more: a partial frame (header + payload of at most the limit, or a control frame)
    // and, inside a fragmented message, the fragments so far (at most the limit).
    FUZZ_CHECK(reader.buffered() < max + 14 + kMaxControl,
               "%zu bytes buffered with a limit of %zu", reader.buffered(), max);
    return true;
  }
}

// A returned message, sent again as one masked client frame, reads back the same.
void check_reencode(const Outcome& m, std::size_t max) {
  const std::string frame = ws::encode_frame(static_cast<ws::Opcode>(m.opcode), m.payload);
  unsigned char header[10];
  const std::size_t h = ws::encode_header(header, static_cast<ws::Opcode>(m.opcode), m.payload.size());
  FUZZ_CHECK(frame.size() == h + m.payload.size() && std::memcmp(frame.data(), header, h) == 0,
             "encode_frame disagrees with encode_header");
  FUZZ_CHECK(h == (m.payload.size() < 126 ? 2u : m.payload.size() <= 0xFFFF ? 4u : 10u),
             "header length %zu for a payload of %zu", h, m.payload.size());
  const unsigned char key[4] = {0x37, 0xFA, 0x21, 0x3D};
  std::string client(frame.data(), h);
  client[1] = static_cast<char>(client[1] | 0x80);
  client.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < m.payload.size(); ++i) client.push_back(static_cast<char>(m.payload[i] ^ key[i % 4]));
  ws::FrameReader reader(max);
  reader.append(client.data(), client.size());
  const ws::ReadResult r = reader.next();
  FUZZ_CHECK(r.kind == ws::ReadResult::Kind::message && static_cast<unsigned>(r.opcode) == m.opcode &&
                 r.payload == m.payload,
             "re-encoded frame reads back as %s", describe(to_outcome(r)).c_str());
}

void check_close_helpers(std::string_view bytes) {
  // parse_close_payload against the reference.
  std::uint16_t code = 0;
  std::string reason;
  const bool ok = ws::parse_close_payload(bytes, code, reason);
  FUZZ_CHECK(ok == reference_close_payload_ok(bytes), "parse_close_payload says %d", ok);
  if (ok) {
    if (bytes.empty()) {
      FUZZ_CHECK(code == 1005 && reason.empty(), "empty close payload read as %u", code);
    } else {
      FUZZ_CHECK(reason == bytes.substr(2), "close reason differs from the payload");
    }
  }
  // close_payload: always a valid close payload of at most 125 bytes, reason cut on a code point.
  if (bytes.size() >= 2) {
    const auto c = static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[0]) << 8) |
                                              static_cast<unsigned char>(bytes[1]));
    std::string_view r = bytes.substr(2);
    if (valid_close_code(c) && fuzz::reference_utf8(r)) {
      const std::string p = ws::close_payload(c, r);
      FUZZ_CHECK(p.size() <= kMaxControl, "close_payload of %zu bytes", p.size());
      std::uint16_t c2 = 0;
      std::string r2;
      FUZZ_CHECK(ws::parse_close_payload(p, c2, r2), "close_payload output does not parse");
      FUZZ_CHECK(c2 == c && r.substr(0, r2.size()) == r2, "close_payload changed code or reason");
      if (r.size() <= kMaxControl - 2) FUZZ_CHECK(r2 == r, "short reason was cut");
      // Cut at most one code point short of the room there is.
      FUZZ_CHECK(r2.size() == r.size() || r2.size() + 4 > kMaxControl - 2, "reason cut too short");
    }
  }
  FUZZ_CHECK(ws::valid_utf8(bytes) == fuzz::reference_utf8(bytes), "valid_utf8 disagrees");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned config = data[0];
  const std::size_t max = kMaxMessage[config & 7];
  const bool release_idle = config & 8;
  const std::size_t nchunks = std::min<std::size_t>(config >> 4, size - 1);
  const std::uint8_t* chunks = data + 1;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1 + nchunks), size - 1 - nchunks);

  const std::vector<Outcome> expected = reference_decode(stream, max);

  ws::FrameReader reader(max);
  std::vector<Outcome> got;
  std::size_t pos = 0, turn = 0;
  bool live = true, last_empty = false;
  // A copy per append: the reader must not keep pointers into what it was given.
  std::string piece;
  for (;;) {
    std::size_t n = nchunks == 0 ? stream.size() : chunks[turn++ % nchunks];
    if (n == 0 && last_empty) n = 1;  // one empty append at a time, then progress
    n = std::min(n, stream.size() - pos);
    last_empty = n == 0;
    piece.assign(stream.substr(pos, n));
    reader.append(piece.data(), piece.size());
    piece.assign(piece.size(), '\xAA');
    pos += n;
    live = drain(reader, max, got);
    if (!live || pos == stream.size()) break;
    if (release_idle) reader.release_idle();
  }
  if (live) got.push_back({ws::ReadResult::Kind::need_more, 0, {}, 0});

  FUZZ_CHECK(got.size() == expected.size(), "%zu results, the reference has %zu (last: %s vs %s)",
             got.size(), expected.size(), describe(got.back()).c_str(), describe(expected.back()).c_str());
  for (std::size_t i = 0; i < got.size(); ++i) {
    FUZZ_CHECK(got[i] == expected[i], "result %zu is %s, the reference says %s", i,
               describe(got[i]).c_str(), describe(expected[i]).c_str());
    if (got[i].kind == ws::ReadResult::Kind::message) check_reencode(got[i], max);
  }

  check_close_helpers(stream);
  return 0;
}
