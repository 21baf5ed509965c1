// RFC 6455 frame reading and writing for the server side, IO-free. FrameReader validates every
// client frame as soon as its header bytes are present (so oversized or malformed frames are
// refused before their payload is buffered), unmasks payloads in place in its single receive
// buffer and hands out views into it; only fragmented messages are copied, into the reassembly
// buffer. Also the frame encoders for the writer, close payload helpers, the handshake accept key
// and strict UTF-8 validation.
#include "protocol/ws_frame.hpp"
#include "config/limits.hpp"
#include "protocol/permessage_deflate.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

namespace valtronics::protocol::ws {

namespace {


constexpr std::size_t kMaxControlPayload = 125;

bool is_control(unsigned op) { return (op & 0x8) != 0; }

bool is_known_opcode(unsigned op) {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// Close codes a peer may send (RFC 6455 7.4 plus the IANA registry); 1004-1006 and 1015 are
// reserved or must never appear on the wire.
bool valid_received_close_code(std::uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

// XOR with the 4-byte key, 8 bytes per step. The key is repeated into a 64-bit word with memcpy,
// so byte order does not matter as long as data words are loaded the same way.
void unmask(char* p, std::size_t n, const unsigned char key[4]) {
  unsigned char key8[8];
  std::memcpy(key8, key, 4);
  std::memcpy(key8 + 4, key, 4);
  std::uint64_t k;
  std::memcpy(&k, key8, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= k;
    std::memcpy(p + i, &w, 8);
  }
  // i is a multiple of 8 (hence of 4), so the tail restarts at key[0].
  for (std::size_t j = 0; i < n; ++i, ++j) p[i] = static_cast<char>(p[i] ^ key[j & 3]);
}

void release_if_large(std::string& s) {
  if (s.empty() && s.capacity() > limits::kFrameReaderRetainBytes) std::string().swap(s);
}

}  // namespace

FrameReader::FrameReader(std::size_t max_message_bytes) : max_(max_message_bytes) {}

void FrameReader::append(const char* data, std::size_t n) {
  if (failed_) return;  // nothing more will be read; don't let a peer grow memory
  release_returned();
  // Compact here rather than in next(): next() may return many frames from one receive, and
  // moving the remainder after each would be quadratic. What remains is normally only the
  // start of one partial frame.
  if (pos_ == buf_.size()) {
    buf_.clear();
    release_if_large(buf_);
  } else if (pos_ > 0) {
    buf_.erase(0, pos_);
  }
  pos_ = 0;
  buf_.append(data, n);
}

void FrameReader::release_idle() {
  release_returned();
  std::string().swap(inflated_);
  if (pos_ != buf_.size() || !message_.empty()) return;
  std::string().swap(buf_);
  std::string().swap(message_);
  pos_ = 0;
}

std::size_t FrameReader::buffered() const {
  return (buf_.size() - pos_) + (message_returned_ ? 0 : message_.size());
}

void FrameReader::release_returned() {
  inflated_.clear();
  release_if_large(inflated_);
  if (message_returned_) {
    message_.clear();
    release_if_large(message_);
    message_returned_ = false;
  }
}

ReadResult FrameReader::fail(std::uint16_t code, const char* reason) {
  failed_ = true;
  error_code_ = code;
  error_reason_ = reason;
  // Frees what the peer made us hold; the connection is closing anyway.
  std::string().swap(buf_);
  std::string().swap(message_);
  pos_ = 0;
  in_fragmented_ = false;
  message_returned_ = false;
  return error_result();
}

ReadResult FrameReader::error_result() const {
  ReadResult r;
  r.kind = ReadResult::Kind::error;
  r.close_code = error_code_;
  r.reason = error_reason_;
  return r;
}

ReadResult FrameReader::next() {
  if (failed_) return error_result();
  release_returned();

  for (;;) {
    const std::size_t avail = buf_.size() - pos_;
    if (avail < 2) return {};
    const auto* p = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
    const unsigned b0 = p[0];
    const unsigned b1 = p[1];
    const bool fin = (b0 & 0x80) != 0;
    const unsigned op = b0 & 0x0F;
    const unsigned len7 = b1 & 0x7F;

    // Everything decidable from the first two bytes is checked before waiting for more. RSV1
    // is permessage-deflate's "compressed", allowed on a data message's first frame only.
    const bool rsv1 = (b0 & 0x40) != 0;
    if ((b0 & 0x30) != 0) return fail(1002, "reserved bits set");
    if (rsv1 && (!compressed_ok_ || op == 0x0 || is_control(op)))
      return fail(1002, "reserved bits set");
    if (!is_known_opcode(op)) return fail(1002, "unknown opcode");
    if ((b1 & 0x80) == 0) return fail(1002, "unmasked client frame");
    if (is_control(op)) {
      // The > 125 check waits for the decoded length: non-minimal encodings are allowed.
      if (!fin) return fail(1002, "fragmented control frame");
    } else if (op == 0x0) {
      if (!in_fragmented_) return fail(1002, "continuation without a message");
    } else if (in_fragmented_) {
      return fail(1002, "new message inside a fragmented one");
    }

    const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    if (avail < 2 + ext) return {};
    std::uint64_t len = len7;
    if (ext == 2) {
      len = (std::uint64_t{p[2]} << 8) | p[3];
    } else if (ext == 8) {
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
      if (len >> 63) return fail(1002, "invalid frame length");
    }
    // Non-minimal length encodings are accepted: harmless, and some clients send them.

    if (is_control(op)) {
      if (len > kMaxControlPayload) return fail(1002, "control frame too long");
    } else {
      const std::size_t have = op == 0x0 ? message_.size() : 0;
      if (have > max_ || len > max_ - have) return fail(1009, "message too big");
    }
    // From here len <= max_ (or <= 125), so it fits in size_t.

    const std::size_t header = 2 + ext + 4;
    if (avail < header || avail - header < len) return {};

    unsigned char key[4];
    std::memcpy(key, p + 2 + ext, 4);
    char* payload = buf_.data() + pos_ + header;
    const auto n = static_cast<std::size_t>(len);
    unmask(payload, n, key);
    pos_ += header + n;
    const std::string_view view(payload, n);

    if (is_control(op)) {
      if (op == 0x8) {
        std::uint16_t code;
        std::string reason;
        if (!parse_close_payload(view, code, reason)) return fail(1002, "invalid close payload");
      }
      ReadResult r;
      r.kind = ReadResult::Kind::message;
      r.opcode = static_cast<Opcode>(op);
      r.payload = view;
      return r;
    }

    if (op != 0x0) {
      if (fin) return whole(static_cast<Opcode>(op), view, rsv1);
      in_fragmented_ = true;
      fragmented_opcode_ = static_cast<Opcode>(op);
      fragmented_compressed_ = rsv1;
      message_.assign(view);
      continue;
    }

    message_.append(view);
    if (!fin) continue;
    in_fragmented_ = false;
    message_returned_ = true;
    return whole(fragmented_opcode_, message_, fragmented_compressed_);
  }
}

ReadResult FrameReader::whole(Opcode opcode, std::string_view payload, bool compressed) {
  if (compressed) {
    // Decompressed within the same limit as a plain message: a small frame cannot make the
    // server hold more than max_message_bytes (a "zip bomb" is refused with 1009).
    auto plain = deflate::decompress(payload, max_);
    if (!plain) return fail(1009, "compressed message invalid or too big once decompressed");
    inflated_ = std::move(*plain);
    payload = inflated_;
  }
  // Validated once on the whole message: a code point may span fragments.
  if (opcode == Opcode::text && !valid_utf8(payload)) {
    return fail(1007, "invalid UTF-8 in text message");
  }
  ReadResult r;
  r.kind = ReadResult::Kind::message;
  r.opcode = opcode;
  r.payload = payload;
  return r;
}

std::size_t encode_header(unsigned char* out, Opcode opcode, std::size_t payload_len,
                          bool compressed) {
  out[0] = static_cast<unsigned char>(0x80 | (compressed ? 0x40 : 0) | static_cast<unsigned>(opcode));
  if (payload_len < 126) {
    out[1] = static_cast<unsigned char>(payload_len);
    return 2;
  }
  if (payload_len <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(payload_len >> 8);
    out[3] = static_cast<unsigned char>(payload_len);
    return 4;
  }
  out[1] = 127;
  const auto len = static_cast<std::uint64_t>(payload_len);
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>(len >> (56 - 8 * i));
  return 10;
}

std::string encode_frame(Opcode opcode, std::string_view payload) {
  unsigned char header[10];
  const std::size_t h = encode_header(header, opcode, payload.size());
  std::string frame;
  frame.reserve(h + payload.size());
  frame.append(reinterpret_cast<const char*>(header), h);
  frame.append(payload);
  return frame;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  constexpr std::size_t kMaxReason = kMaxControlPayload - 2;
  if (reason.size() > kMaxReason) {
    // Cut on a code point boundary so the peer does not reject the close as invalid UTF-8.
    std::size_t cut = kMaxReason;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string out;
  out.reserve(2 + reason.size());
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason);
  return out;
}

bool parse_close_payload(std::string_view payload, std::uint16_t& code, std::string& reason) {
  if (payload.empty()) {
    code = 1005;
    reason.clear();
    return true;
  }
  if (payload.size() < 2) return false;
  const auto c = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                            static_cast<unsigned char>(payload[1]));
  if (!valid_received_close_code(c)) return false;
  const std::string_view r = payload.substr(2);
  if (!valid_utf8(r)) return false;
  code = c;
  reason.assign(r);
  return true;
}

std::string accept_key(std::string_view sec_websocket_key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input;
  input.reserve(sec_websocket_key.size() + kGuid.size());
  input.append(sec_websocket_key);
  input.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Messages are mostly ASCII (JSON): skip it a word at a time.
    while (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) != 0) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Ranges of Unicode Table 3-7 (well-formed UTF-8 byte sequences): the second byte's range
    // is what excludes overlongs, surrogates and code points above U+10FFFF.
    std::size_t extra;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (n - i - 1 < extra) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k <= extra; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
    }
    i += 1 + extra;
  }
  return true;
}

}  // namespace valtronics::protocol::ws
