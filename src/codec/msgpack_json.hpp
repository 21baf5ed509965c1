// MessagePack <-> JSON values (issue 15: the `valtronics.msgpack` subprotocol), with MsgPuck
// (Debian libmsgpuck-dev). Shared by the server and the C++ SDK, so it knows neither: a message
// is the same tree in both encodings, field for field; only its bytes differ.
//
// Why MsgPuck and not msgpack-cxx: Debian 12's libmsgpack-cxx-dev (and libmsgpack-dev, which
// needs it) depends on libboost-dev, Boost 1.74, which cannot be installed beside the Boost 1.81
// we build with. MsgPuck is a maintained C library (Tarantool's) with no dependency at all.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace valtronics::codec {

// Appends `v` as MessagePack: objects as maps with string keys, arrays, strings, integers
// (unsigned when not negative), doubles as float 64, booleans, null as nil; always the
// smallest form of each header.
void to_msgpack(const boost::json::value& v, std::string& out);
std::string to_msgpack(const boost::json::value& v);

// The JSON value a MessagePack message holds; nullopt, with `error` saying why, when `data` is
// not exactly one well-formed MessagePack value or holds what JSON cannot: binary or extension
// values, map keys that are not strings, floats that are not finite, or nesting deeper than
// `max_depth`.
std::optional<boost::json::value> from_msgpack(std::string_view data, std::string& error,
                                               int max_depth = 32);

// The header of a map at the start of `data`: its entry count and its size in bytes (1, 3 or
// 5); nullopt when `data` does not start with a map.
struct MapHead {
  std::uint32_t count;
  std::size_t size;
};
std::optional<MapHead> map_head(std::string_view data);

// Writes the smallest map or array header of `count` entries to `out` (at least 5 bytes);
// returns its size.
std::size_t put_map_head(std::uint32_t count, char* out);
std::size_t put_array_head(std::uint32_t count, char* out);
// Writes one map entry, a string key and an unsigned or boolean value (at most
// key.size() + 14 bytes); returns the end.
char* put_entry(char* out, std::string_view key, std::uint64_t value);
char* put_entry(char* out, std::string_view key, bool value);

}  // namespace valtronics::codec
