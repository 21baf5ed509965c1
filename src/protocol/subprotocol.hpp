// The WebSocket subprotocols (issue 15): how a connection's messages are encoded. A client
// that names none speaks the spec's JSON, exactly as before the extension.
#pragma once

#include <optional>
#include <string_view>

namespace valtronics::protocol {

enum class Encoding : unsigned char { json, msgpack };

struct Subprotocol {
  Encoding encoding;
  std::string_view name;  // what the handshake's Sec-WebSocket-Protocol answer names
};

inline constexpr std::string_view kJsonSubprotocol = "valtronics.json";
inline constexpr std::string_view kMsgpackSubprotocol = "valtronics.msgpack";

// The first of the client's Sec-WebSocket-Protocol offers (comma-separated, its preference
// first, RFC 6455 4.1) that the server speaks; nullopt when it speaks none of them.
std::optional<Subprotocol> choose_subprotocol(std::string_view offers);

}  // namespace valtronics::protocol
