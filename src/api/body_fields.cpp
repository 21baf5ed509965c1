// Body shape, keys and typed fields. Validation never throws and stops at the first problem.
#include "api/body_fields.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "config/limits.hpp"
#include "util/time.hpp"

namespace valtronics::api::body {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxEchoedKey = 64;
constexpr std::size_t kMaxMetric = limits::kMaxMetricChars;  // config/limits.hpp
constexpr double kMaxDurationSeconds = 365.0 * 24 * 3600;  // one year

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// Characters, not bytes: UTF-8 continuation bytes are not counted.
std::size_t char_count(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

bool blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  return true;
}

// At most kMaxEchoedKey bytes of a client's key, then "...", cut at the start of the character
// the limit would split: messages stay valid UTF-8.
std::string echo(std::string_view key) {
  if (key.size() <= kMaxEchoedKey) return std::string(key);
  std::size_t n = kMaxEchoedKey;
  while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;  // continuation byte
  return std::string(key.substr(0, n)) + "...";
}

bool contains(Names set, std::string_view k) {
  return std::find(set.begin(), set.end(), k) != set.end();
}

// "0", "0s", "000ms": zero written as a duration string (parse_duration refuses zero).
bool zero_duration_string(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] == '0') ++i;
  if (i == 0) return false;
  std::string_view unit = s.substr(i);
  return unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "h";
}

}  // namespace

model::Result<json::object> parse_object(std::string_view body, bool optional) {
  if (blank(body)) {
    if (optional) return json::object{};
    return model::invalid("body", "a JSON object body is required");
  }
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return model::invalid("body", "body is not valid JSON: " + ec.message());
  if (!v.is_object()) return model::invalid("body", "body must be a JSON object");
  return std::move(v.as_object());
}

std::string join(Names items, std::string_view sep) {
  std::string out;
  for (auto it : items) {
    if (!out.empty()) out += sep;
    out += it;
  }
  return out;
}

Error check_keys(const json::value& body, Names allowed, Names read_only,
                 std::string_view read_only_msg) {
  if (!body.is_object()) return model::invalid("body", "request body must be a JSON object");
  for (const auto& kv : body.get_object()) {
    std::string_view k = kv.key();
    if (contains(allowed, k)) continue;
    if (contains(read_only, k))
      return model::invalid(std::string(k), std::string(k) + std::string(read_only_msg));
    std::string unknown = "\"" + echo(k) + "\"";
    for (const auto& other : body.get_object()) {
      std::string_view o = other.key();
      if (o == k || contains(allowed, o) || contains(read_only, o)) continue;
      if (&other < &kv) continue;
      unknown += ", \"" + echo(o) + "\"";
    }
    bool many = unknown.find(", ") != std::string::npos;
    return model::invalid(echo(k), std::string(many ? "unknown fields " : "unknown field ") +
                                       unknown + "; allowed: " + join(allowed));
  }
  return std::nullopt;
}

const json::value* given(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return nullptr;
  return v;
}

bool is_explicit_null(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_null();
}

Error read_text(const json::value& v, std::string_view field, std::size_t max, bool non_empty,
                std::string& out) {
  const std::string f(field);
  if (!v.is_string()) return model::invalid(f, f + " must be a string");
  std::string_view s = v.get_string();
  if (non_empty && blank(s)) return model::invalid(f, f + " must not be empty");
  if (char_count(s) > max)
    return model::invalid(f, f + " must be at most " + std::to_string(max) + " characters");
  out = std::string(s);
  return std::nullopt;
}

Error read_positive_id(const json::value& v, std::string_view field, std::int64_t& out) {
  // Only JSON integers: 1.0 or "1" are refused, as in the Telemetry API.
  if (!v.is_int64() || v.get_int64() <= 0)
    return model::invalid(std::string(field), std::string(field) + " must be a positive integer");
  out = v.get_int64();
  return std::nullopt;
}

Error read_object(const json::value& v, std::string_view field, json::object& out,
                  std::size_t max_bytes) {
  if (!v.is_object())
    return model::invalid(std::string(field), std::string(field) + " must be an object");
  if (json::serialize(v).size() > max_bytes)
    return model::invalid(std::string(field), std::string(field) + " must be at most " +
                                                   std::to_string(max_bytes) +
                                                   " bytes of JSON");
  out = v.get_object();
  return std::nullopt;
}

std::optional<double> finite_number(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64: return static_cast<double>(v.get_int64());
    case json::kind::uint64: return static_cast<double>(v.get_uint64());
    case json::kind::double_:
      if (std::isfinite(v.get_double())) return v.get_double();
      return std::nullopt;
    default: return std::nullopt;
  }
}

Error read_duration(const json::value& v, std::string_view field, std::chrono::milliseconds& out) {
  const std::string f(field);
  const std::string bad = f + " must be a non-negative number of seconds or a duration string "
                              "such as \"30s\", \"5m\" or \"500ms\"";
  if (v.is_string()) {
    std::string_view s = v.get_string();
    if (zero_duration_string(s)) {
      out = std::chrono::milliseconds{0};
      return std::nullopt;
    }
    auto d = util::parse_duration(s);
    if (!d) return model::invalid(f, bad);
    if (seconds(*d) > kMaxDurationSeconds)
      return model::invalid(f, f + " must be at most 365 days");
    out = *d;
    return std::nullopt;
  }
  auto n = finite_number(v);
  if (!n || *n < 0) return model::invalid(f, bad);
  if (*n > kMaxDurationSeconds) return model::invalid(f, f + " must be at most 365 days");
  out = std::chrono::milliseconds{std::llround(*n * 1000.0)};
  return std::nullopt;
}

bool valid_metric_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxMetric) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace valtronics::api::body
