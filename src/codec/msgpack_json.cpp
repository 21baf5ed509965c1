// MessagePack <-> JSON values with MsgPuck. MsgPuck writes into caller-sized buffers, so each
// value reserves its bytes first (mp_sizeof_*), then encodes in place.
#define MP_SOURCE 1  // this unit holds MsgPuck's out-of-line functions and tables
#include <msgpuck.h>

#include "codec/msgpack_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <limits>

namespace valtronics::codec {

namespace {

// Room for `n` more bytes at the end of `out`; returns where they start.
char* grow(std::string& out, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + n);
  return out.data() + at;
}

void put_str(std::string& out, std::string_view s) {
  const auto len = static_cast<std::uint32_t>(s.size());
  mp_encode_str(grow(out, mp_sizeof_str(len)), s.data(), len);
}

// Reads one value with every length checked against the end of the buffer. (MsgPuck's own
// mp_check() cannot be trusted with hostile input: it adds a 32-bit element count to an int,
// so an array announcing 2^32-1 elements overflows it and passes as well-formed.)
class Reader {
 public:
  Reader(std::string_view data, int max_depth, std::string& error)
      : p_(data.data()), end_(data.data() + data.size()), max_depth_(max_depth), error_(error) {}

  const char* position() const { return p_; }

  std::optional<boost::json::value> value(int depth) {
    if (depth > max_depth_) return fail("nested deeper than " + std::to_string(max_depth_) +
                                        " levels");
    if (p_ >= end_) return truncated();
    // MsgPuck files the one never-used type byte with the extensions.
    if (static_cast<unsigned char>(*p_) == 0xc1) return fail("0xc1 is not a MessagePack type");
    const auto type = mp_typeof(*p_);
    if (type == MP_ARRAY || type == MP_MAP) return container(type, depth);
    // A scalar: mp_check() is safe here (no element count), and the decoding below with it.
    const char* q = p_;
    if (mp_check(&q, end_) != 0) return truncated();
    switch (type) {
      case MP_NIL: mp_decode_nil(&p_); return boost::json::value(nullptr);
      case MP_BOOL: return boost::json::value(mp_decode_bool(&p_));
      case MP_UINT: {
        // As boost::json::parse reads JSON: int64 when it fits, so a reader checking
        // is_int64() takes a MessagePack number as it takes the same JSON number.
        const std::uint64_t u = mp_decode_uint(&p_);
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          return boost::json::value(static_cast<std::int64_t>(u));
        return boost::json::value(u);
      }
      case MP_INT: return boost::json::value(mp_decode_int(&p_));
      case MP_FLOAT: return number(mp_decode_float(&p_));
      case MP_DOUBLE: return number(mp_decode_double(&p_));
      case MP_STR: {
        std::uint32_t len = 0;
        const char* s = mp_decode_str(&p_, &len);
        return boost::json::value(boost::json::string(std::string_view(s, len)));
      }
      case MP_BIN: return fail("binary values have no JSON form");
      case MP_EXT: return fail("extension values have no JSON form");
      default: break;
    }
    return fail("unknown type");
  }

 private:
  std::optional<boost::json::value> container(mp_type type, int depth) {
    const bool map = type == MP_MAP;
    if ((map ? mp_check_map(p_, end_) : mp_check_array(p_, end_)) > 0) return truncated();
    const std::uint32_t n = map ? mp_decode_map(&p_) : mp_decode_array(&p_);
    // Every element takes a byte at least: a count beyond what is left is a lie, refused
    // before anything is allocated for it.
    if (std::uint64_t(n) * (map ? 2 : 1) > static_cast<std::uint64_t>(end_ - p_))
      return truncated();
    if (!map) {
      boost::json::array a;
      a.reserve(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        auto v = value(depth + 1);
        if (!v) return std::nullopt;
        a.push_back(std::move(*v));
      }
      return boost::json::value(std::move(a));
    }
    boost::json::object o;
    o.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      if (p_ >= end_) return truncated();
      if (mp_typeof(*p_) != MP_STR) return fail("a map key is not a string");
      const char* q = p_;
      if (mp_check(&q, end_) != 0) return truncated();
      std::uint32_t len = 0;
      const char* k = mp_decode_str(&p_, &len);
      auto v = value(depth + 1);
      if (!v) return std::nullopt;
      o.insert_or_assign(std::string_view(k, len), std::move(*v));
    }
    return boost::json::value(std::move(o));
  }
  std::optional<boost::json::value> number(double d) {
    if (!std::isfinite(d)) return fail("a float is not finite (JSON has no NaN or infinity)");
    return boost::json::value(d);
  }
  std::optional<boost::json::value> truncated() {
    return fail("not well-formed MessagePack: truncated (a length or count beyond the message)");
  }
  std::optional<boost::json::value> fail(std::string why) {
    error_ = std::move(why);
    return std::nullopt;
  }
  const char* p_;
  const char* end_;
  int max_depth_;
  std::string& error_;
};

}  // namespace

void to_msgpack(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::null:
      mp_encode_nil(grow(out, mp_sizeof_nil()));
      break;
    case boost::json::kind::bool_:
      mp_encode_bool(grow(out, mp_sizeof_bool(v.get_bool())), v.get_bool());
      break;
    case boost::json::kind::int64: {
      const std::int64_t i = v.get_int64();
      if (i < 0) {
        mp_encode_int(grow(out, mp_sizeof_int(i)), i);
      } else {
        mp_encode_uint(grow(out, mp_sizeof_uint(static_cast<std::uint64_t>(i))),
                       static_cast<std::uint64_t>(i));
      }
      break;
    }
    case boost::json::kind::uint64:
      mp_encode_uint(grow(out, mp_sizeof_uint(v.get_uint64())), v.get_uint64());
      break;
    case boost::json::kind::double_:
      mp_encode_double(grow(out, mp_sizeof_double(v.get_double())), v.get_double());
      break;
    case boost::json::kind::string:
      put_str(out, v.get_string());
      break;
    case boost::json::kind::array: {
      const auto& a = v.get_array();
      const auto n = static_cast<std::uint32_t>(a.size());
      mp_encode_array(grow(out, mp_sizeof_array(n)), n);
      for (const auto& e : a) to_msgpack(e, out);
      break;
    }
    case boost::json::kind::object: {
      const auto& o = v.get_object();
      const auto n = static_cast<std::uint32_t>(o.size());
      mp_encode_map(grow(out, mp_sizeof_map(n)), n);
      for (const auto& kv : o) {
        put_str(out, kv.key());
        to_msgpack(kv.value(), out);
      }
      break;
    }
  }
}

std::string to_msgpack(const boost::json::value& v) {
  std::string out;
  to_msgpack(v, out);
  return out;
}

std::optional<boost::json::value> from_msgpack(std::string_view data, std::string& error,
                                               int max_depth) {
  if (data.empty()) {
    error = "empty message";
    return std::nullopt;
  }
  Reader reader(data, max_depth, error);
  auto value = reader.value(0);
  if (!value) return std::nullopt;
  const char* const end = data.data() + data.size();
  if (reader.position() != end) {
    error = "more than one value (" + std::to_string(end - reader.position()) +
            " bytes after the first)";
    return std::nullopt;
  }
  return value;
}

std::optional<MapHead> map_head(std::string_view data) {
  if (data.empty() || mp_typeof(data.front()) != MP_MAP) return std::nullopt;
  const char* p = data.data();
  const auto c = static_cast<unsigned char>(data[0]);
  const std::size_t need = (c & 0xf0) == 0x80 ? 1 : c == 0xde ? 3 : 5;  // fixmap, map 16, 32
  if (data.size() < need) return std::nullopt;
  const std::uint32_t count = mp_decode_map(&p);
  return MapHead{count, static_cast<std::size_t>(p - data.data())};
}

std::size_t put_map_head(std::uint32_t count, char* out) {
  return static_cast<std::size_t>(mp_encode_map(out, count) - out);
}

std::size_t put_array_head(std::uint32_t count, char* out) {
  return static_cast<std::size_t>(mp_encode_array(out, count) - out);
}

char* put_entry(char* out, std::string_view key, std::uint64_t value) {
  out = mp_encode_str(out, key.data(), static_cast<std::uint32_t>(key.size()));
  return mp_encode_uint(out, value);
}

char* put_entry(char* out, std::string_view key, bool value) {
  out = mp_encode_str(out, key.data(), static_cast<std::uint32_t>(key.size()));
  return mp_encode_bool(out, value);
}

}  // namespace valtronics::codec
