// RFC 6455 framing, IO-free: a reader that turns received bytes into whole messages and control
// frames, and the encoders the writer needs. The server owns framing (rather than Beast's stream)
// so that it can gather many queued frames into one socket write and keep control frames (pong,
// close) in the same ordered queue as data frames (uWebSockets keeps its frame parser IO-free too).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace valtronics::protocol::ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
};

struct ReadResult {
  enum class Kind { need_more, message, error };
  Kind kind = Kind::need_more;
  // message: opcode is text or binary (whole reassembled message) or close/ping/pong (one
  // control frame). payload stays valid until the next call to next() or append().
  Opcode opcode = Opcode::text;
  std::string_view payload;
  // error: the close code to send (1002 protocol error, 1007 invalid UTF-8 in a text message,
  // 1009 message bigger than the limit) and a short reason.
  std::uint16_t close_code = 0;
  std::string reason;
};

// Reads client-to-server frames: they must be masked (else 1002); reserved bits must be zero (no
// extension is negotiated); control frames at most 125 bytes and never fragmented; data
// fragments reassembled (control frames may interleave); text messages must be valid UTF-8; a
// message whose announced or reassembled length exceeds `max_message_bytes` is refused (1009)
// before its payload is buffered. After an error the reader stays in error.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_message_bytes);

  // permessage-deflate was negotiated: a data message's first frame may set RSV1 (compressed);
  // it is decompressed once whole, and its decompressed size must stay within the limit (1009).
  void accept_compressed() { compressed_ok_ = true; }

  void append(const char* data, std::size_t n);  // bytes just received
  ReadResult next();                              // next complete message, need_more, or error

  // Bytes buffered but not yet returned (for memory accounting).
  std::size_t buffered() const;

  // Frees the buffers when nothing is buffered (an idle connection then holds no heap memory
  // here). Payloads returned earlier become invalid.
  void release_idle();

 private:
  ReadResult fail(std::uint16_t code, const char* reason);
  // A whole data message: decompressed when `compressed`, then checked (UTF-8 for text).
  ReadResult whole(Opcode opcode, std::string_view payload, bool compressed);
  ReadResult error_result() const;
  void release_returned();  // drops the reassembled message once its view has expired

  std::size_t max_;
  std::string buf_;         // received bytes; [pos_, size) not yet consumed, compacted on append
  std::size_t pos_ = 0;     // consumed prefix of buf_ (returned payloads point into it)
  std::string message_;     // data fragments being reassembled
  bool message_returned_ = false;  // message_ holds a message already handed out
  bool in_fragmented_ = false;
  Opcode fragmented_opcode_ = Opcode::text;
  bool compressed_ok_ = false;       // permessage-deflate negotiated
  bool fragmented_compressed_ = false;  // the message being reassembled has RSV1
  std::string inflated_;             // the last decompressed message (payload views point here)
  bool failed_ = false;
  std::uint16_t error_code_ = 0;
  std::string error_reason_;
};

// Writes the header of an unmasked server-to-client frame (FIN set; RSV1 with `compressed`,
// permessage-deflate) into `out` (at least 10 bytes) and returns its length (2, 4 or 10).
std::size_t encode_header(unsigned char* out, Opcode opcode, std::size_t payload_len,
                          bool compressed = false);

// Whole frame (header + payload) as one string: for rare frames (close, pong, replies).
std::string encode_frame(Opcode opcode, std::string_view payload);

// Close frame payload: 2-byte big-endian code + reason (reason truncated to fit 125 bytes).
std::string close_payload(std::uint16_t code, std::string_view reason);
// Reads a received close payload: code (1005 when empty) and reason; false if malformed
// (1 byte, invalid code, invalid UTF-8 reason).
bool parse_close_payload(std::string_view payload, std::uint16_t& code, std::string& reason);

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)), via OpenSSL.
std::string accept_key(std::string_view sec_websocket_key);

// Strict UTF-8 validation (no overlongs, no surrogates, max U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace valtronics::protocol::ws
