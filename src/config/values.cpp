// Readers and writers of TOML values (values.hpp). Every reader's error is one line naming the
// key; every writer's output is read back by the matching reader to the same value, which is
// what lets `config init` and `config show` print a file that loads.

#include "config/values.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "config/config.hpp"
#include "util/ip_network.hpp"
#include "util/time.hpp"

namespace valtronics::config::detail {

void fail(const std::string& message) { throw ConfigError(message); }

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

std::string describe(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::boolean: return v.as_boolean() ? "true" : "false";
    case toml::value_t::integer: return std::to_string(v.as_integer());
    case toml::value_t::floating: return "a float";
    case toml::value_t::string: return in_quotes(v.as_string().str);
    case toml::value_t::array: return "an array";
    case toml::value_t::table: return "a table";
    case toml::value_t::offset_datetime:
    case toml::value_t::local_datetime:
    case toml::value_t::local_date:
    case toml::value_t::local_time: return "a date/time";
    case toml::value_t::empty: return "nothing";
  }
  return "an unknown value";
}

std::size_t positive_size(const toml::value& v, const std::string& key) {
  if (!v.is_integer() || v.as_integer() <= 0) fail(key + ": expected a positive integer");
  return static_cast<std::size_t>(v.as_integer());
}

double positive_number(const toml::value& v, const std::string& key) {
  double d = 0;
  if (v.is_integer()) d = static_cast<double>(v.as_integer());
  else if (v.is_floating()) d = v.as_floating();
  if (!(d > 0) || !std::isfinite(d)) fail(key + ": expected a positive number");
  return d;
}

std::string string_value(const toml::value& v, const std::string& key) {
  if (!v.is_string()) fail(key + ": expected a string, got " + describe(v));
  return v.as_string().str;
}

bool bool_value(const toml::value& v, const std::string& key) {
  if (!v.is_boolean()) fail(key + ": expected true or false, got " + describe(v));
  return v.as_boolean();
}

milliseconds duration_value(const toml::value& v, const std::string& key, bool allow_zero) {
  constexpr const char* kShape = ": expected a duration like \"10s\", \"500ms\" or \"5m\", got ";
  if (!v.is_string()) fail(key + kShape + describe(v));
  const std::string& text = v.as_string().str;
  if (allow_zero &&
      (text == "0ms" || text == "0s" || text == "0m" || text == "0h" || text == "0d")) {
    return milliseconds{0};
  }
  auto d = util::parse_duration(text);
  if (!d) fail(key + kShape + in_quotes(text));
  return *d;
}

std::vector<std::string> string_array(const toml::value& v, const std::string& key) {
  if (!v.is_array()) fail(key + ": expected an array of strings, got " + describe(v));
  std::vector<std::string> out;
  for (const auto& e : v.as_array()) {
    if (!e.is_string()) fail(key + ": expected an array of strings, got " + describe(e) + " in it");
    out.push_back(e.as_string().str);
  }
  return out;
}

// net/client_address parses them again; checking here turns a typo into a start-up error
// instead of a proxy (or a scraper) silently not recognised.
void check_networks(const std::vector<std::string>& entries, const std::string& key) {
  for (const auto& entry : entries)
    if (!util::IpNetwork::parse(entry))
      fail(key + ": " + in_quotes(entry) +
           " is not an IP address or CIDR network (e.g. \"10.0.0.0/8\", \"192.0.2.7\", "
           "\"fd00::/8\"; no host names, no bits set past the prefix)");
}

bool valid_log_level(const std::string& s) {
  static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  return std::any_of(std::begin(kLevels), std::end(kLevels), [&](const char* l) { return s == l; });
}

bool valid_log_format(const std::string& s) { return s == "text" || s == "json"; }

bool known_algorithm(const std::string& s) { return s == "HS256" || s == "RS256" || s == "ES256"; }

std::vector<std::string> algorithms_value(const std::vector<std::string>& values,
                                          const std::string& key) {
  if (values.empty()) fail(key + ": expected at least one of \"HS256\", \"RS256\", \"ES256\"");
  for (const auto& v : values) {
    if (!known_algorithm(v)) {
      fail(key + ": expected \"HS256\", \"RS256\" or \"ES256\", got " + in_quotes(v));
    }
  }
  return values;
}

// ---- writers ----

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {  // TOML strings may not hold other control characters raw
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string toml_strings(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + toml_string(v[i]);
  return out + "]";
}

// Zero as "0s", as the docs write "off" (format_duration says "0ms").
std::string toml_duration(milliseconds d) {
  return toml_string(d.count() == 0 ? "0s" : util::format_duration(d));
}

std::string toml_integer(std::uint64_t n) { return std::to_string(n); }

std::string toml_number(double d) {
  // std::to_chars gives the shortest text that reads back as the same double: "100", "14.5",
  // "1e+20"; each is a TOML integer or float that positive_number accepts.
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::string toml_bool(bool b) { return b ? "true" : "false"; }

std::string toml_listen(const std::string& host, std::uint16_t port) {
  if (host.empty()) return "\"\"";
  const bool v6 = host.find(':') != std::string::npos;
  return toml_string((v6 ? "[" + host + "]" : host) + ":" + std::to_string(port));
}

namespace {
std::string mask_one(const std::string& url, bool lone_user_is_secret) {
  std::string out = url;
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto start = scheme + 3;
    // The last '@' of the URL: a password holding an unescaped '@' or '/' is still masked whole
    // (masking too much is the safe mistake here).
    const auto at = out.rfind('@');
    if (at != std::string::npos && at >= start) {
      const auto colon = out.find(':', start);
      if (colon != std::string::npos && colon < at)  // USER:PASSWORD@
        out = out.substr(0, colon + 1) + "***" + out.substr(at);
      else if (lone_user_is_secret)  // TOKEN@
        out = out.substr(0, start) + "***" + out.substr(at);
    }
  }
  // libpq also takes the password as a parameter: ...?password=SECRET&sslmode=require.
  for (auto pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    const auto begin = pos + 9;
    auto end = out.find_first_of("& ", begin);
    if (end == std::string::npos) end = out.size();
    out.replace(begin, end - begin, "***");
  }
  return out;
}
}  // namespace

std::string mask_url(const std::string& urls, bool lone_user_is_secret) {
  std::string out;
  std::size_t start = 0;
  while (true) {  // comma-separated: a NATS cluster's seed URLs
    const auto comma = urls.find(',', start);
    out += mask_one(urls.substr(start, comma == std::string::npos ? std::string::npos
                                                                   : comma - start),
                    lone_user_is_secret);
    if (comma == std::string::npos) break;
    out += ",";
    start = comma + 1;
  }
  return out;
}

}  // namespace valtronics::config::detail
