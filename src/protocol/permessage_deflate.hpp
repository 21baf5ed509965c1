// permessage-deflate (RFC 7692), with zlib: the handshake's negotiation, and compression and
// decompression of single messages. The server always takes no context over from one message
// to the next in either direction (server_no_context_takeover, client_no_context_takeover), so
// a connection holds no zlib state at all: each thread keeps one deflate and one inflate
// stream, reset per message. That also makes the compressed form of a message the same for
// every connection, so a shared update is compressed once per thread (net/deflate_cache.hpp),
// and a connection's own bytes (the `,"seq":N}` suffix) follow it as a stored block.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace valtronics::protocol::deflate {

// What the handshake agreed.
struct Agreement {
  int server_window_bits = 15;  // the window our compressor may use (the client may ask less)
  std::string response;         // the Sec-WebSocket-Extensions response header's value
};

// Reads the client's Sec-WebSocket-Extensions offers (comma-separated, in preference order) and
// accepts the first permessage-deflate offer it can honour; nullopt when none (the connection
// then runs uncompressed). An offer it cannot honour: server_max_window_bits=8 (zlib cannot
// produce a 256-byte window), a parameter given twice or with a bad value, or an unknown one.
std::optional<Agreement> negotiate(std::string_view offers);

// The compressed form of `payload` as a message's payload: raw DEFLATE ending with a sync flush
// whose final 0x00 0x00 0xff 0xff is removed (RFC 7692 7.2.1). With `open_end`, the sync flush
// is kept and more blocks may follow (see stored_tail).
std::string compress(std::string_view payload, int window_bits, bool open_end = false);

// The bytes that end a message after compress(prefix, ..., open_end = true): `tail` as a stored
// DEFLATE block, then the empty stored block's header of the final sync flush (its 0x00 0x00
// 0xff 0xff removed). At most kStoredTailOverhead bytes more than `tail`.
inline constexpr std::size_t kStoredTailOverhead = 6;
std::size_t stored_tail(std::string_view tail, char* out);
// `bytes` as one stored block, not final, at a byte boundary (a message's start, or after a
// completed stored block): what a connection's own bytes before a shared compressed part are
// (the MessagePack map header that counts the `seq` entries added after it).
inline constexpr std::size_t kStoredBlockOverhead = 5;
std::size_t stored_block(std::string_view bytes, char* out);

// A received compressed message's payload, decompressed (0x00 0x00 0xff 0xff appended first);
// nullopt when it is not valid DEFLATE or decompresses to more than `max_bytes`.
std::optional<std::string> decompress(std::string_view data, std::size_t max_bytes);

}  // namespace valtronics::protocol::deflate
