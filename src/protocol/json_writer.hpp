// Compact JSON writer for everything the server sends. Output is byte-for-byte what
// boost::json::serialize produces, except for doubles: Boost.JSON 1.81 writes every double in
// scientific notation ("2.534E1", "1E0"), which is valid JSON but not what clients expect. Here
//  - an integral double with |v| < 2^53 is written as an integer ("1", "-3"; -0.0 as "0"),
//  - any other finite double in its shortest round-trip form ("25.34", "0.1", "1e-07", "1e+300"),
//  - NaN and infinities, which JSON cannot spell, as null.
// Strings and keys are escaped by Boost.JSON itself, so escaping matches boost::json::serialize.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace valtronics::protocol {

// Appends the compact JSON text of `v` to `out`.
void append_json(std::string& out, const boost::json::value& v);

// Same for an object or array held directly (no copy into a value).
void append_json(std::string& out, const boost::json::object& o);
void append_json(std::string& out, const boost::json::array& a);

// The compact JSON text of `v`.
std::string to_json(const boost::json::value& v);

// Pieces for building a frame directly, without a boost::json::value first.
// A quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view s);
// A number as described above (null when not finite).
void append_json_double(std::string& out, double d);
void append_json_int(std::string& out, std::int64_t i);
void append_json_uint(std::string& out, std::uint64_t u);

}  // namespace valtronics::protocol
