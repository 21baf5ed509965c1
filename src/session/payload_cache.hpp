// The other forms of the shared payloads this thread sends lately: compressed
// (permessage-deflate), MessagePack (the `valtronics.msgpack` subprotocol) or both. An update
// is serialized once, as JSON, and shared by every connection of the thread (hub/); each other
// form is the same for every connection that uses it too (no context takeover; a connection's
// own bytes, its `seq`, stay outside the shared part), so the first connection that needs a
// form makes it and the thread's others reuse it: each encoding costs once per update and
// thread, not once per delivery. Keyed by the shared payload itself (held weakly: an entry
// whose payload is gone never matches a new payload at the same address).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace valtronics::session::payload_cache {

using Bytes = std::shared_ptr<const std::string>;

struct Form {
  bool msgpack = false;   // MessagePack instead of JSON
  int window_bits = 0;    // compressed with this window; 0: not compressed
  // Compressed so that a connection's own bytes may surround the shared part (see below).
  bool open_end = false;
  bool operator==(const Form&) const = default;
};

// `payload` (a JSON message) in `form`:
//  - MessagePack: the same message (codec/msgpack_json.hpp), a map;
//  - compressed: the message's DEFLATE blocks ending with a sync flush (whose 0x00 0x00 0xff
//    0xff is removed unless `open_end`, protocol/permessage_deflate.hpp); with `open_end`, of
//    JSON all but the closing brace (a connection's `,"seq":N}` replaces it), of MessagePack
//    all but the map header (a connection's header counts the entries it adds).
Bytes encoded(const Bytes& payload, Form form);

}  // namespace valtronics::session::payload_cache
