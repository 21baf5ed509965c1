// TOML values in and out of config fields: readers that check a value's type and range and name
// the key in their error, and writers that render a field back as TOML text the readers accept.
// The building blocks of the key table (table.cpp); internal to src/config/.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <toml.hpp>
#include <vector>

namespace valtronics::config::detail {

using std::chrono::milliseconds;

// More threads than this is a typo, not a machine; it would also make a thread per shard
// pointless.
inline constexpr unsigned kMaxThreads = 1024;

[[noreturn]] void fail(const std::string& message);  // throws ConfigError
std::string in_quotes(const std::string& s);
// A value as an error shows it: 12, "text", true, "an array".
std::string describe(const toml::value& v);

// ---- readers: each throws ConfigError "KEY: expected ..., got ..." ----
std::size_t positive_size(const toml::value& v, const std::string& key);
double positive_number(const toml::value& v, const std::string& key);
std::string string_value(const toml::value& v, const std::string& key);
bool bool_value(const toml::value& v, const std::string& key);
// `allow_zero` is for settings where zero means "off" (leeway, expiry warning); util's
// parse_duration refuses zero because a zero interval is a mistake everywhere else.
milliseconds duration_value(const toml::value& v, const std::string& key, bool allow_zero);
std::vector<std::string> string_array(const toml::value& v, const std::string& key);
// Every entry an IP address or a CIDR network (server.trusted_proxies, metrics.allow).
void check_networks(const std::vector<std::string>& entries, const std::string& key);
bool valid_log_level(const std::string& s);
bool valid_log_format(const std::string& s);
bool known_algorithm(const std::string& s);  // HS256, RS256, ES256
// `values` when it is a non-empty list of known algorithms.
std::vector<std::string> algorithms_value(const std::vector<std::string>& values,
                                          const std::string& key);

// ---- writers: TOML text that the readers above accept back ----
std::string toml_string(const std::string& s);  // quoted and escaped
std::string toml_strings(const std::vector<std::string>& v);
std::string toml_duration(milliseconds d);      // "10s", "0ms"
std::string toml_integer(std::uint64_t n);
std::string toml_number(double d);              // shortest text that reads back the same
std::string toml_bool(bool b);
// "HOST:PORT" ("[::1]:8000" for IPv6) as set_listen parses it; "" when `host` is empty.
std::string toml_listen(const std::string& host, std::uint16_t port);

// A URL (or comma-separated URLs) with the password of USER:PASSWORD@ replaced by "***", and
// with a lone TOKEN@ too when `lone_user_is_secret` (NATS reads it as a token; PostgreSQL and
// MQTT as a user name). libpq's `password=` parameter is masked as well.
std::string mask_url(const std::string& urls, bool lone_user_is_secret);

}  // namespace valtronics::config::detail
