// Loading and checking the server configuration. Each TOML key has one setter here that checks
// its type and range and names the key in its error, so a bad file fails at start-up with one
// line instead of surprising the server later. Cross-key rules live in validate(), which runs
// after flags and the environment have been applied.

#include "config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <toml.hpp>

#include "util/ip_network.hpp"
#include "util/time.hpp"

namespace valtronics::config {

namespace {

// More threads than this is a typo, not a machine; it would also make a thread per shard
// pointless.
constexpr std::int64_t kMaxThreads = 1024;

[[noreturn]] void fail(const std::string& message) { throw ConfigError(message); }

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

// `allow_zero` is for settings where zero means "off" (leeway, expiry warning); util's
// parse_duration refuses zero because a zero interval is a mistake everywhere else.
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

// Every entry an address or a CIDR network (net/client_address parses them again).
void check_trusted_proxies(const std::vector<std::string>& entries) {
  for (const auto& entry : entries)
    if (!util::IpNetwork::parse(entry))
      fail("server.trusted_proxies: " + in_quotes(entry) +
           " is not an IP address or CIDR network (e.g. \"10.0.0.0/8\", \"192.0.2.7\", "
           "\"fd00::/8\"; no host names, no bits set past the prefix)");
}

bool valid_log_level(const std::string& s) {
  static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  return std::any_of(std::begin(kLevels), std::end(kLevels), [&](const char* l) { return s == l; });
}

void set_log_level(Config& cfg, const std::string& value, const std::string& key) {
  if (!valid_log_level(value)) {
    fail(key + ": expected one of trace, debug, info, warn, error, critical, off, got " +
         in_quotes(value));
  }
  cfg.log_level = value;
}

// ---- identity providers ----
bool known_algorithm(const std::string& s) { return s == "HS256" || s == "RS256" || s == "ES256"; }

void set_algorithms(Config& cfg, const std::vector<std::string>& values, const std::string& key) {
  if (values.empty()) fail(key + ": expected at least one of \"HS256\", \"RS256\", \"ES256\"");
  for (const auto& v : values) {
    if (!known_algorithm(v)) {
      fail(key + ": expected \"HS256\", \"RS256\" or \"ES256\", got " + in_quotes(v));
    }
  }
  cfg.auth.algorithms = values;
}

bool accepts(const AuthConfig& a, const char* alg) {
  return std::find(a.algorithms.begin(), a.algorithms.end(), alg) != a.algorithms.end();
}

void validate_identity_providers(const Config& cfg) {
  const AuthConfig& a = cfg.auth;
  if (a.algorithms.empty()) fail("auth.algorithms: expected at least one algorithm");
  for (const auto& alg : a.algorithms) {
    if (!known_algorithm(alg)) {
      fail("auth.algorithms: expected \"HS256\", \"RS256\" or \"ES256\", got " + in_quotes(alg));
    }
  }
  if (accepts(a, "HS256") && a.jwt_secret.empty() && !cfg.demo) {
    fail("auth.jwt_secret: no JWT secret configured; set --jwt-secret, VALTRONICS_JWT_SECRET or "
         "[auth] jwt_secret (or run with --demo)");
  }
  if (!a.previous_jwt_secret.empty() && a.jwt_secret.empty()) {
    fail("auth.previous_jwt_secret: set, but there is no auth.jwt_secret to roll over to");
  }
  const bool asymmetric = accepts(a, "RS256") || accepts(a, "ES256");
  if (!a.public_key_file.empty() && !a.jwks_file.empty()) {
    fail("auth.public_key_file and auth.jwks_file: set one of them, not both");
  }
  if (asymmetric && a.public_key_file.empty() && a.jwks_file.empty()) {
    fail(std::string("auth.algorithms: ") + (accepts(a, "RS256") ? "RS256" : "ES256") +
         " needs a public key: set auth.public_key_file or auth.jwks_file");
  }
  if (!asymmetric && (!a.public_key_file.empty() || !a.jwks_file.empty())) {
    fail(std::string(a.jwks_file.empty() ? "auth.public_key_file" : "auth.jwks_file") +
         ": set, but auth.algorithms accepts neither RS256 nor ES256");
  }
  // Whether the files can be read and hold keys of the right type is checked when the server
  // loads them (auth::KeyStore), with the same kind of one-line error naming the file.
}

using Setter = std::function<void(Config&, const toml::value&, const std::string&)>;
using Section = std::map<std::string, Setter>;

const std::map<std::string, Section>& sections() {
  // "" is the top level. Keys are listed once here, so a key missing from this table is by
  // construction an "unknown key" error rather than silently ignored.
  static const std::map<std::string, Section> kSections = {
      {"",
       {
           {"listen", [](Config& c, const toml::value& v, const std::string& k) {
              set_listen(c, string_value(v, k), k);
            }},
           {"threads", [](Config& c, const toml::value& v, const std::string& k) {
              auto n = positive_size(v, k);
              if (n > static_cast<std::size_t>(kMaxThreads)) {
                fail(k + ": must be at most " + std::to_string(kMaxThreads));
              }
              c.threads = static_cast<unsigned>(n);
            }},
           {"log_level", [](Config& c, const toml::value& v, const std::string& k) {
              set_log_level(c, string_value(v, k), k);
            }},
           {"db", [](Config& c, const toml::value& v, const std::string& k) {
              c.db = string_value(v, k);
              if (c.db.empty()) fail(k + ": expected a file path, \":memory:\" or a postgresql:// URI");
            }},
           {"demo", [](Config& c, const toml::value& v, const std::string& k) {
              c.demo = bool_value(v, k);
            }},
           {"listen_plain", [](Config& c, const toml::value& v, const std::string& k) {
              set_listen_plain(c, string_value(v, k), k);
            }},
       }},
      {"mqtt",
       {
           {"url", [](Config& c, const toml::value& v, const std::string& k) {
              c.mqtt.url = string_value(v, k);  // "": no MQTT ingest
            }},
           {"username", [](Config& c, const toml::value& v, const std::string& k) {
              c.mqtt.username = string_value(v, k);
            }},
           {"password", [](Config& c, const toml::value& v, const std::string& k) {
              c.mqtt.password = string_value(v, k);
            }},
           {"client_id", [](Config& c, const toml::value& v, const std::string& k) {
              c.mqtt.client_id = string_value(v, k);
            }},
           {"topic_prefix", [](Config& c, const toml::value& v, const std::string& k) {
              c.mqtt.topic_prefix = string_value(v, k);
            }},
           {"qos", [](Config& c, const toml::value& v, const std::string& k) {
              if (!v.is_integer() || v.as_integer() < 0 || v.as_integer() > 2)
                fail(k + ": expected 0, 1 or 2, got " + describe(v));
              c.mqtt.qos = static_cast<int>(v.as_integer());
            }},
           {"ca_file", [](Config& c, const toml::value& v, const std::string& k) {
              c.mqtt.ca_file = string_value(v, k);
            }},
       }},
      {"cluster",
       {
           {"nats_url", [](Config& c, const toml::value& v, const std::string& k) {
              c.cluster.nats_url = string_value(v, k);  // "": a single node
            }},
           {"node_id", [](Config& c, const toml::value& v, const std::string& k) {
              c.cluster.node_id = string_value(v, k);
            }},
           {"name", [](Config& c, const toml::value& v, const std::string& k) {
              c.cluster.name = string_value(v, k);
            }},
           {"partitions", [](Config& c, const toml::value& v, const std::string& k) {
              auto n = positive_size(v, k);
              if (n > 1024) fail(k + ": must be at most 1024, got " + std::to_string(n));
              c.cluster.partitions = static_cast<unsigned>(n);
            }},
           {"lease_ttl", [](Config& c, const toml::value& v, const std::string& k) {
              c.cluster.lease_ttl = duration_value(v, k, false);
            }},
       }},
      {"tls",
       {
           {"cert", [](Config& c, const toml::value& v, const std::string& k) {
              c.tls.cert = string_value(v, k);  // "": no TLS
            }},
           {"key", [](Config& c, const toml::value& v, const std::string& k) {
              c.tls.key = string_value(v, k);
            }},
           {"ca_file", [](Config& c, const toml::value& v, const std::string& k) {
              c.tls.ca_file = string_value(v, k);
            }},
       }},
      {"auth",
       {
           {"jwt_secret", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.jwt_secret = string_value(v, k);
            }},
           {"auth_timeout", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.auth_timeout = duration_value(v, k, false);
            }},
           {"leeway", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.leeway = duration_value(v, k, true);
            }},
           {"allowed_origins", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.allowed_origins = string_array(v, k);
            }},
           {"expiry_warning", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.expiry_warning = duration_value(v, k, true);
            }},
           // ---- identity providers ----
           {"algorithm", [](Config& c, const toml::value& v, const std::string& k) {
              // Before RS256/ES256 the file named its one algorithm; it still can.
              set_algorithms(c, {string_value(v, k)}, k);
            }},
           {"algorithms", [](Config& c, const toml::value& v, const std::string& k) {
              set_algorithms(c, string_array(v, k), k);
            }},
           {"previous_jwt_secret", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.previous_jwt_secret = string_value(v, k);
            }},
           {"public_key_file", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.public_key_file = string_value(v, k);
            }},
           {"jwks_file", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.jwks_file = string_value(v, k);
            }},
           {"issuer", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.issuer = string_value(v, k);
            }},
           {"audience", [](Config& c, const toml::value& v, const std::string& k) {
              c.auth.audience = string_value(v, k);
            }},
       }},
      {"limits",
       {
           {"max_connections", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_connections = positive_size(v, k);
            }},
           {"max_connections_per_user", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_connections_per_user = positive_size(v, k);
            }},
           {"connections_per_minute", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.connections_per_minute = positive_size(v, k);
            }},
           {"messages_per_second", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.messages_per_second = positive_number(v, k);
            }},
           {"max_message_bytes", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_message_bytes = positive_size(v, k);
            }},
           {"max_batch", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_batch = positive_size(v, k);
            }},
           {"max_batch_bytes", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_batch_bytes = positive_size(v, k);
            }},
           {"max_outbound_bytes", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_outbound_bytes = positive_size(v, k);
            }},
           {"max_subscriptions", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_subscriptions = positive_size(v, k);
            }},
           {"flood_close_after", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.flood_close_after = duration_value(v, k, false);
            }},
           {"write_timeout", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.write_timeout = duration_value(v, k, true);
            }},
           {"idle_timeout", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.idle_timeout = duration_value(v, k, true);
            }},
           {"tls_handshake_timeout", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.tls_handshake_timeout = duration_value(v, k, false);
             }},
           // ---- abuse limits (issue 10)
           {"max_http_connections", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_http_connections = positive_size(v, k);
            }},
           {"header_timeout", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.header_timeout = duration_value(v, k, false);
            }},
           {"body_timeout", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.body_timeout = duration_value(v, k, false);
            }},
           {"auth_failures_before_ban", [](Config& c, const toml::value& v, const std::string& k) {
              if (!v.is_integer() || v.as_integer() < 0)
                fail(k + ": expected a non-negative integer (0 disables bans), got " + describe(v));
              c.limits.auth_failures_before_ban = static_cast<std::size_t>(v.as_integer());
            }},
           {"auth_failure_window", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.auth_failure_window = duration_value(v, k, false);
            }},
           {"ban_duration", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.ban_duration = duration_value(v, k, false);
            }},
           {"max_unauthenticated", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.max_unauthenticated = positive_size(v, k);
            }},
           {"control_frames_per_second", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.control_frames_per_second = positive_number(v, k);
            }},
           {"conflate_after", [](Config& c, const toml::value& v, const std::string& k) {
              c.limits.conflate_after = duration_value(v, k, true);
            }},
       }},
      {"ingest",
       {
           {"max_items", [](Config& c, const toml::value& v, const std::string& k) {
              c.ingest.max_items = positive_size(v, k);
            }},
           {"max_body_bytes", [](Config& c, const toml::value& v, const std::string& k) {
              c.ingest.max_body_bytes = positive_size(v, k);
            }},
           {"auto_register", [](Config& c, const toml::value& v, const std::string& k) {
              c.ingest.auto_register = bool_value(v, k);
            }},
           {"max_metrics_per_device", [](Config& c, const toml::value& v, const std::string& k) {
              c.ingest.max_metrics_per_device = positive_size(v, k);
            }},
       }},
      {"devices",
       {
           {"offline_after", [](Config& c, const toml::value& v, const std::string& k) {
              c.devices.offline_after = duration_value(v, k, false);
            }},
           {"critical_sets_warning", [](Config& c, const toml::value& v, const std::string& k) {
              c.devices.critical_sets_warning = bool_value(v, k);
            }},
           {"offline_alert", [](Config& c, const toml::value& v, const std::string& k) {
              c.devices.offline_alert = bool_value(v, k);
            }},
       }},
      {"telemetry",
       {
           {"retention", [](Config& c, const toml::value& v, const std::string& k) {
              c.telemetry.retention = duration_value(v, k, true);
            }},
       }},
      {"alerts",
       {
           {"replay_max_alerts", [](Config& c, const toml::value& v, const std::string& k) {
              c.alerts.replay_max_alerts = positive_size(v, k);
            }},
           {"replay_max_age", [](Config& c, const toml::value& v, const std::string& k) {
              c.alerts.replay_max_age = duration_value(v, k, false);
            }},
           {"retention", [](Config& c, const toml::value& v, const std::string& k) {
              c.alerts.retention = duration_value(v, k, true);
            }},
       }},
      // (issue 10, durability)
      {"server",
       {
           {"io_uring", [](Config& c, const toml::value& v, const std::string& k) {
              c.server.io_uring = bool_value(v, k);
            }},
           {"shutdown_timeout", [](Config& c, const toml::value& v, const std::string& k) {
              c.server.shutdown_timeout = duration_value(v, k, false);
            }},
           {"trusted_proxies", [](Config& c, const toml::value& v, const std::string& k) {
              c.server.trusted_proxies = string_array(v, k);
              check_trusted_proxies(c.server.trusted_proxies);
            }},
       }},
      {"system",
       {
           {"default_frequency", [](Config& c, const toml::value& v, const std::string& k) {
              c.system.default_frequency = duration_value(v, k, false);
            }},
           {"min_frequency", [](Config& c, const toml::value& v, const std::string& k) {
              c.system.min_frequency = duration_value(v, k, false);
            }},
       }},
  };
  return kSections;
}

// toml11 keeps tables in an unordered_map; visiting keys sorted makes "the first error" the
// same on every run and platform.
std::vector<std::string> sorted_keys(const toml::table& t) {
  std::vector<std::string> keys;
  keys.reserve(t.size());
  for (const auto& [k, v] : t) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

void apply_section(Config& cfg, const Section& section, const toml::table& table,
                   const std::string& prefix) {
  for (const auto& key : sorted_keys(table)) {
    const std::string full = prefix.empty() ? key : prefix + "." + key;
    auto it = section.find(key);
    if (it == section.end()) fail("unknown key '" + full + "'");
    it->second(cfg, table.at(key), full);
  }
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// toml11 reports syntax errors as a multi-line source excerpt; start-up errors must be one line.
// Keep the headline, the line number of the last marked source line and its annotation:
// "FILE:2: value ("x") already exists. (value defined twice)".
std::string condense_toml_error(const std::string& what, const std::string& path,
                                unsigned fallback_line) {
  std::istringstream in(what);
  std::string line, headline, annotation;
  unsigned line_no = fallback_line;
  unsigned last_source_line = 0;
  bool first = true;
  while (std::getline(in, line)) {
    if (first) {
      headline = trim(line);
      first = false;
      continue;
    }
    // Source lines look like " 12 | text"; markers like "    |   ^--- note".
    const auto bar = line.find('|');
    if (bar != std::string::npos) {
      const std::string left = trim(line.substr(0, bar));
      if (!left.empty() && all_digits(left)) {
        last_source_line = static_cast<unsigned>(std::stoul(left));
      }
      const auto marker = line.find("^---", bar);
      if (marker != std::string::npos) {
        annotation = trim(line.substr(marker + 4));
        if (last_source_line) line_no = last_source_line;
      }
    }
  }
  if (headline.rfind("[error]", 0) == 0) headline = trim(headline.substr(7));
  // Drop toml11's internal function name ("toml::parse_key_value_pair: ").
  if (headline.rfind("toml::", 0) == 0) {
    const auto colon = headline.find(": ");
    if (colon != std::string::npos) headline = headline.substr(colon + 2);
  }
  std::string out = "config: " + path;
  if (line_no) out += ":" + std::to_string(line_no);
  out += ": " + headline;
  if (!annotation.empty() && annotation != "here") out += " (" + annotation + ")";
  return out;
}

bool valid_hostname(const std::string& h) {
  // Letters, digits, dots and dashes: a DNS name or a dotted IPv4 address. Anything else is a
  // typo the resolver would only report later and less clearly.
  return !h.empty() && h.size() <= 253 && std::all_of(h.begin(), h.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '.' || c == '-';
         });
}

}  // namespace

Config load_file(const std::string& path, Config base) {
  std::error_code fs_ec;
  if (std::filesystem::is_directory(path, fs_ec)) fail("config: cannot read " + path);
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("config: cannot read " + path);
  std::stringstream content;
  content << file.rdbuf();
  if (file.bad()) fail("config: cannot read " + path);

  toml::value root;
  try {
    root = toml::parse(content, path);
  } catch (const toml::exception& e) {
    fail(condense_toml_error(e.what(), path, e.location().line()));
  } catch (const std::exception& e) {
    fail(condense_toml_error(e.what(), path, 0));
  }
  if (!root.is_table()) fail("config: " + path + ": expected a TOML table at top level");

  const auto& all = sections();
  const Section& top = all.at("");
  const toml::table& table = root.as_table();
  for (const auto& key : sorted_keys(table)) {
    const toml::value& v = table.at(key);
    if (auto it = top.find(key); it != top.end()) {
      it->second(base, v, key);
      continue;
    }
    auto sec = all.find(key);
    if (sec == all.end() || key.empty()) {
      fail(v.is_table() ? "unknown section '[" + key + "]'" : "unknown key '" + key + "'");
    }
    if (!v.is_table()) fail(key + ": expected a table ([" + key + "]), got " + describe(v));
    apply_section(base, sec->second, v.as_table(), key);
  }
  return base;
}

void set_listen(Config& cfg, const std::string& value, const std::string& key) {
  const std::string shape = ": expected HOST:PORT (IPv6 as [::1]:8000), got " + in_quotes(value);
  std::string host, port;
  if (!value.empty() && value.front() == '[') {
    const auto close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      fail(key + shape);
    }
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
    in6_addr addr6{};
    if (host.empty() || inet_pton(AF_INET6, host.c_str(), &addr6) != 1) {
      fail(key + ": " + in_quotes(host) + " is not an IPv6 address");
    }
  } else {
    const auto colon = value.rfind(':');
    if (colon == std::string::npos) fail(key + shape);
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      fail(key + ": IPv6 addresses need brackets, as in [::1]:8000, got " + in_quotes(value));
    }
    if (!valid_hostname(host)) fail(key + shape);
  }
  // Port 0 binds an ephemeral port; the server prints the one it got (tests rely on it).
  if (!all_digits(port) || port.size() > 5 || std::stoul(port) > 65535) {
    fail(key + ": port must be an integer from 0 to 65535, got " + in_quotes(port));
  }
  cfg.listen_host = host;
  cfg.listen_port = static_cast<std::uint16_t>(std::stoul(port));
}

void set_listen_plain(Config& cfg, const std::string& value, const std::string& key) {
  if (value.empty()) {  // none
    cfg.listen_plain_host.clear();
    cfg.listen_plain_port = 0;
    return;
  }
  // Parsed by set_listen's rules on a scratch config, so both listeners accept the same shapes.
  Config scratch;
  set_listen(scratch, value, key);
  cfg.listen_plain_host = scratch.listen_host;
  cfg.listen_plain_port = scratch.listen_port;
}

namespace {
// TLS needs a certificate and its key together; mTLS and the plain listener only make sense
// with TLS on (without it `listen` is already plain).
void validate_tls(const Config& cfg) {
  const TlsConfig& t = cfg.tls;
  if (t.cert.empty() != t.key.empty())
    fail(t.cert.empty() ? "tls.cert: tls.key is set but not tls.cert (--tls-cert)"
                        : "tls.key: tls.cert is set but not tls.key (--tls-key)");
  if (!t.enabled() && !t.ca_file.empty())
    fail("tls.ca_file: client certificates need TLS on (tls.cert and tls.key)");
  if (!t.enabled() && !cfg.listen_plain_host.empty())
    fail("listen_plain: a plain listener beside TLS needs TLS on (tls.cert and tls.key); "
         "without TLS, listen is plain already");
  if (cfg.limits.tls_handshake_timeout.count() <= 0)
    fail("limits.tls_handshake_timeout: must be positive");
}
}  // namespace

// (issue 12) The URL itself is parsed by the MQTT link (mqtt/broker_url.hpp), at start-up.
void validate_mqtt(const MqttConfig& m) {
  if (m.qos < 0 || m.qos > 2) fail("mqtt.qos: expected 0, 1 or 2, got " + std::to_string(m.qos));
  const auto& p = m.topic_prefix;
  if (p.empty() || p.front() == '/' || p.back() == '/' ||
      p.find_first_of(std::string("+#\0", 3)) != std::string::npos)
    fail("mqtt.topic_prefix: " + in_quotes(p) +
         " must be a topic without wildcards (+ #) or a leading or trailing /, e.g. "
         "\"valtronics\" or \"site1/valtronics\"");
  if (!m.ca_file.empty() && !m.url.starts_with("mqtts://"))
    fail("mqtt.ca_file: set, but mqtt.url is not mqtts:// (TLS)");
}

// (issue 12) Nodes of a cluster share the database: a SQLite file is one process's.
void validate_cluster(const Config& cfg) {
  const ClusterConfig& c = cfg.cluster;
  if (!c.enabled()) return;
  if (!cfg.db.starts_with("postgresql://") && !cfg.db.starts_with("postgres://"))
    fail("cluster.nats_url: a cluster needs one PostgreSQL database shared by its nodes "
         "(db = \"postgresql://USER@HOST:PORT/DB\", --db); " + in_quotes(cfg.db) +
         " is a SQLite database, which only one node can use");
  auto token_ok = [](const std::string& s) {
    constexpr const char* kAllowed =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    return !s.empty() && s.size() <= 64 && s.find_first_not_of(kAllowed) == std::string::npos;
  };
  if (!token_ok(c.name))
    fail("cluster.name: " + in_quotes(c.name) +
         " must be 1 to 64 letters, digits, '_' or '-' (it names NATS subjects and a bucket)");
  if (!c.node_id.empty() && !token_ok(c.node_id))
    fail("cluster.node_id: " + in_quotes(c.node_id) +
         " must be 1 to 64 letters, digits, '_' or '-' (it is part of NATS subjects)");
  if (c.partitions == 0 || c.partitions > 1024)
    fail("cluster.partitions: expected 1 to 1024, got " + std::to_string(c.partitions));
  if (c.lease_ttl < std::chrono::milliseconds(1000))
    fail("cluster.lease_ttl: must be at least 1s");
}

void validate(const Config& cfg) {
  validate_identity_providers(cfg);
  validate_cluster(cfg);
  validate_tls(cfg);
  validate_mqtt(cfg.mqtt);
  if (cfg.listen_host.empty()) fail("listen: expected HOST:PORT");
  if (cfg.threads == 0 || cfg.threads > kMaxThreads) {
    fail("threads: expected a positive integer at most " + std::to_string(kMaxThreads));
  }
  if (!valid_log_level(cfg.log_level)) {
    fail("log_level: expected one of trace, debug, info, warn, error, critical, off, got " +
         in_quotes(cfg.log_level));
  }
  if (cfg.auth.auth_timeout.count() <= 0) fail("auth.auth_timeout: must be positive");
  if (cfg.auth.leeway.count() < 0) fail("auth.leeway: must not be negative");
  if (cfg.auth.expiry_warning.count() < 0) fail("auth.expiry_warning: must not be negative");
  if (cfg.telemetry.retention.count() < 0) fail("telemetry.retention: must not be negative");
  if (cfg.alerts.retention.count() < 0) fail("alerts.retention: must not be negative");
  if (cfg.server.shutdown_timeout.count() <= 0) fail("server.shutdown_timeout: must be positive");

  const auto positive = [](std::size_t v, const char* key) {
    if (v == 0) fail(std::string(key) + ": expected a positive integer");
  };
  const LimitsConfig& l = cfg.limits;
  positive(l.max_connections, "limits.max_connections");
  positive(l.max_connections_per_user, "limits.max_connections_per_user");
  positive(l.connections_per_minute, "limits.connections_per_minute");
  positive(l.max_message_bytes, "limits.max_message_bytes");
  positive(l.max_batch, "limits.max_batch");
  positive(l.max_batch_bytes, "limits.max_batch_bytes");
  positive(l.max_outbound_bytes, "limits.max_outbound_bytes");
  positive(l.max_subscriptions, "limits.max_subscriptions");
  positive(cfg.ingest.max_items, "ingest.max_items");
  positive(cfg.ingest.max_body_bytes, "ingest.max_body_bytes");
  if (!(l.messages_per_second > 0) || !std::isfinite(l.messages_per_second)) {
    fail("limits.messages_per_second: expected a positive number");
  }
  if (l.flood_close_after.count() <= 0) fail("limits.flood_close_after: must be positive");
  // A batch frame is allowed to be larger than one message, never smaller: otherwise a batch
  // of one message could be refused where the message alone is accepted.
  if (l.max_batch_bytes < l.max_message_bytes) {
    fail("limits.max_batch_bytes: must be at least limits.max_message_bytes (" +
         std::to_string(l.max_batch_bytes) + " < " + std::to_string(l.max_message_bytes) + ")");
  }
  // ---- abuse limits (issue 10)
  positive(l.max_http_connections, "limits.max_http_connections");
  positive(cfg.ingest.max_metrics_per_device, "ingest.max_metrics_per_device");
  if (l.header_timeout.count() <= 0) fail("limits.header_timeout: must be positive");
  if (l.body_timeout.count() <= 0) fail("limits.body_timeout: must be positive");
  if (l.auth_failure_window.count() <= 0) fail("limits.auth_failure_window: must be positive");
  if (l.ban_duration.count() <= 0) fail("limits.ban_duration: must be positive");
  positive(l.max_unauthenticated, "limits.max_unauthenticated");
  check_trusted_proxies(cfg.server.trusted_proxies);
  if (!(l.control_frames_per_second > 0) || !std::isfinite(l.control_frames_per_second)) {
    fail("limits.control_frames_per_second: expected a positive number");
  }
  if (cfg.system.min_frequency.count() <= 0) fail("system.min_frequency: must be positive");
  if (cfg.system.default_frequency < cfg.system.min_frequency) {
    fail("system.default_frequency: must not be below system.min_frequency (" +
         util::format_duration(cfg.system.default_frequency) + " < " +
         util::format_duration(cfg.system.min_frequency) + ")");
  }
}

}  // namespace valtronics::config
