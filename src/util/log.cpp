// The JSON line formatter and the masking of request targets.
#include "util/log.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <ctime>

namespace valtronics::util {

std::uint64_t next_connection_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

namespace {

bool secret_parameter(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kSecrets{
      "token",  "access_token", "jwt",     "secret",        "password", "passwd",
      "key",    "api_key",      "apikey",  "authorization", "auth",     "signature"};
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto s : kSecrets)
    if (lower == s || lower.ends_with("_" + std::string(s)) ||
        lower.ends_with("-" + std::string(s)))
      return true;
  return false;
}

void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace

std::string loggable_target(std::string_view target) {
  std::string out;
  const auto q = target.find('?');
  append_escaped(out, target.substr(0, q));
  if (q == std::string_view::npos) return out;
  out += '?';
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (true) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    const auto eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    append_escaped(out, name);
    if (eq != std::string_view::npos) {
      out += '=';
      if (secret_parameter(name)) out += "***";
      else append_escaped(out, pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

namespace {

// The value of the first ` key=` token of `msg` (or at its start): up to the next space.
std::string_view token_value(std::string_view msg, std::string_view key) {
  std::size_t at = 0;
  while ((at = msg.find(key, at)) != std::string_view::npos) {
    if (at == 0 || msg[at - 1] == ' ') {
      auto value = msg.substr(at + key.size());
      return value.substr(0, value.find(' '));
    }
    at += key.size();
  }
  return {};
}

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto since_epoch = msg.time.time_since_epoch();
    const auto secs = duration_cast<seconds>(since_epoch);
    const auto micros = duration_cast<microseconds>(since_epoch - secs).count();
    const std::time_t t = secs.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[48];
    const auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(stamp + n, sizeof stamp - n, ".%06lldZ", static_cast<long long>(micros));
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string_view text(msg.payload.data(), msg.payload.size());
    // Boost.JSON writes the object in insertion order and escapes the strings.
    boost::json::object line;
    line["time"] = stamp;
    line["level"] = std::string_view(level.data(), level.size());
    if (msg.logger_name.size())
      line["logger"] = std::string_view(msg.logger_name.data(), msg.logger_name.size());
    if (auto conn = token_value(text, "conn="); !conn.empty()) line["conn"] = conn;
    if (auto req = token_value(text, "req="); !req.empty()) line["req"] = req;
    line["msg"] = text;
    const std::string out = boost::json::serialize(line);
    dest.append(out.data(), out.data() + out.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::unique_ptr<spdlog::formatter> json_formatter() { return std::make_unique<JsonFormatter>(); }

bool set_log_format(std::string_view format) {
  if (format == "json") {
    spdlog::set_formatter(json_formatter());
    return true;
  }
  return format == "text";  // spdlog's own pattern, as it is
}

}  // namespace valtronics::util
