// Loading and checking the server configuration. Each TOML key has one entry in the key table
// (table.cpp) whose setter checks its type and range and names the key in its error, so a bad
// file fails at start-up with one line instead of surprising the server later. Cross-key rules
// live in validate(), which runs after flags and the environment have been applied.

#include "config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>

#include "config/apply.hpp"
#include "config/document.hpp"
#include "config/values.hpp"
#include "util/time.hpp"

namespace valtronics::config {

using namespace detail;

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
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
  const toml::value root = parse_toml_file(path);
  const auto errors = apply_document_all(base, root);
  if (errors.empty()) return base;
  // Every refused key, with its line, on one line (a start-up error is one log line):
  // "config: FILE:3: KEY: problem", or "config: FILE: 2 errors: 3: KEY: problem; 7: ...".
  if (errors.size() == 1) fail("config: " + located(path, errors[0].line, errors[0].message));
  std::string message = "config: " + path + ": " + std::to_string(errors.size()) + " errors: ";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i) message += "; ";
    if (errors[i].line) message += std::to_string(errors[i].line) + ": ";
    message += errors[i].message;
  }
  fail(message);
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

}  // namespace

std::vector<std::string> validation_errors(const Config& cfg) {
  std::vector<std::string> errors;
  // Each rule on its own, so that `config check` can list every broken one; validate() throws
  // the first, in this order.
  const auto rule = [&](auto&& check) {
    try {
      check();
    } catch (const ConfigError& e) {
      errors.emplace_back(e.what());
    }
  };
  const auto require = [&](bool ok, const std::string& message) {
    if (!ok) errors.push_back(message);
  };
  const auto positive = [&](std::size_t v, const char* key) {
    require(v != 0, std::string(key) + ": expected a positive integer");
  };
  rule([&] { validate_identity_providers(cfg); });
  rule([&] { validate_cluster(cfg); });
  rule([&] { validate_tls(cfg); });
  rule([&] { validate_mqtt(cfg.mqtt); });
  require(!cfg.listen_host.empty(), "listen: expected HOST:PORT");
  require(cfg.threads != 0 && cfg.threads <= kMaxThreads,
          "threads: expected a positive integer at most " + std::to_string(kMaxThreads));
  require(valid_log_level(cfg.log_level),
          "log_level: expected one of trace, debug, info, warn, error, critical, off, got " +
              in_quotes(cfg.log_level));
  require(valid_log_format(cfg.log_format),
          "log_format: expected \"text\" or \"json\", got " + in_quotes(cfg.log_format));
  require(cfg.auth.auth_timeout.count() > 0, "auth.auth_timeout: must be positive");
  require(cfg.auth.leeway.count() >= 0, "auth.leeway: must not be negative");
  require(cfg.auth.expiry_warning.count() >= 0, "auth.expiry_warning: must not be negative");
  require(cfg.telemetry.retention.count() >= 0, "telemetry.retention: must not be negative");
  require(cfg.alerts.retention.count() >= 0, "alerts.retention: must not be negative");
  require(cfg.server.shutdown_timeout.count() > 0, "server.shutdown_timeout: must be positive");

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
  require(l.messages_per_second > 0 && std::isfinite(l.messages_per_second),
          "limits.messages_per_second: expected a positive number");
  require(l.flood_close_after.count() > 0, "limits.flood_close_after: must be positive");
  // A batch frame is allowed to be larger than one message, never smaller: otherwise a batch
  // of one message could be refused where the message alone is accepted.
  require(l.max_batch_bytes >= l.max_message_bytes,
          "limits.max_batch_bytes: must be at least limits.max_message_bytes (" +
              std::to_string(l.max_batch_bytes) + " < " + std::to_string(l.max_message_bytes) +
              ")");
  // ---- abuse limits (issue 10)
  positive(l.max_http_connections, "limits.max_http_connections");
  positive(cfg.ingest.max_metrics_per_device, "ingest.max_metrics_per_device");
  require(l.header_timeout.count() > 0, "limits.header_timeout: must be positive");
  require(l.body_timeout.count() > 0, "limits.body_timeout: must be positive");
  require(l.auth_failure_window.count() > 0, "limits.auth_failure_window: must be positive");
  require(l.ban_duration.count() > 0, "limits.ban_duration: must be positive");
  positive(l.max_unauthenticated, "limits.max_unauthenticated");
  rule([&] { check_networks(cfg.server.trusted_proxies, "server.trusted_proxies"); });
  require(l.control_frames_per_second > 0 && std::isfinite(l.control_frames_per_second),
          "limits.control_frames_per_second: expected a positive number");
  require(cfg.system.min_frequency.count() > 0, "system.min_frequency: must be positive");
  require(cfg.system.default_frequency >= cfg.system.min_frequency,
          "system.default_frequency: must not be below system.min_frequency (" +
              util::format_duration(cfg.system.default_frequency) + " < " +
              util::format_duration(cfg.system.min_frequency) + ")");
  // (issue 13)
  rule([&] { check_networks(cfg.metrics.allow, "metrics.allow"); });
  return errors;
}

void validate(const Config& cfg) {
  const auto errors = validation_errors(cfg);
  if (!errors.empty()) fail(errors.front());
}

}  // namespace valtronics::config
