// See json_writer.hpp. The tree walk mirrors boost::json::serializer (compact output, keys in
// insertion order); only the spelling of doubles differs.
#include "protocol/json_writer.hpp"

#include <fmt/format.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <iterator>

namespace valtronics::protocol {

namespace json = boost::json;

namespace {

// Bytes boost::json::serializer escapes: control characters, '"' and '\'. Everything else (DEL,
// '/', bytes >= 0x80) is copied verbatim, so a string without these is written as-is.
bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

// 2^53: every integer below it in magnitude is exactly representable, so the integral double
// and the integer denote the same number for any reader (including JavaScript).
constexpr double kMaxExactInteger = 9007199254740992.0;

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  bool clean = true;
  for (char c : s) {
    if (needs_escape(static_cast<unsigned char>(c))) {
      clean = false;
      break;
    }
  }
  if (clean) {
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return;
  }
  // Let Boost.JSON escape it, writing straight into `out`. Each byte expands to at most six
  // ("\u00XX"), plus the two quotes, so one read with that much room always finishes.
  json::serializer sr;
  sr.reset(json::string_view(s.data(), s.size()));
  const std::size_t pos = out.size();
  const std::size_t room = s.size() * 6 + 2;
  out.resize(pos + room);
  const auto written = sr.read(out.data() + pos, room);
  out.resize(pos + written.size());
}

void append_json_int(std::string& out, std::int64_t i) {
  fmt::format_to(std::back_inserter(out), "{}", i);
}

void append_json_uint(std::string& out, std::uint64_t u) {
  fmt::format_to(std::back_inserter(out), "{}", u);
}

void append_json_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out.append("null");
  } else if (std::fabs(d) < kMaxExactInteger && std::trunc(d) == d) {
    append_json_int(out, static_cast<std::int64_t>(d));  // -0.0 becomes "0"
  } else {
    // Shortest representation that parses back to the same double.
    fmt::format_to(std::back_inserter(out), "{}", d);
  }
}

void append_json(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out.append("null"); return;
    case json::kind::bool_: out.append(v.get_bool() ? "true" : "false"); return;
    case json::kind::int64: append_json_int(out, v.get_int64()); return;
    case json::kind::uint64: append_json_uint(out, v.get_uint64()); return;
    case json::kind::double_: append_json_double(out, v.get_double()); return;
    case json::kind::string: {
      const auto& s = v.get_string();
      append_json_string(out, std::string_view(s.data(), s.size()));
      return;
    }
    case json::kind::array: append_json(out, v.get_array()); return;
    case json::kind::object: append_json(out, v.get_object()); return;
  }
}

void append_json(std::string& out, const json::array& a) {
  out.push_back('[');
  bool first = true;
  for (const auto& e : a) {
    if (!first) out.push_back(',');
    first = false;
    append_json(out, e);
  }
  out.push_back(']');
}

void append_json(std::string& out, const json::object& o) {
  out.push_back('{');
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out.push_back(',');
    first = false;
    const auto k = kv.key();
    append_json_string(out, std::string_view(k.data(), k.size()));
    out.push_back(':');
    append_json(out, kv.value());
  }
  out.push_back('}');
}

std::string to_json(const json::value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

}  // namespace valtronics::protocol
