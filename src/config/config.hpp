// The server's whole configuration: one struct, one default and bound per key. Loaded from a
// TOML file, then overridden by flags, then by the environment (the secret). Every key is in the
// key table (config/table.cpp: doc, reader, writer, secret, live), from which `valtronics config
// init` writes config/valtronics.example.toml; docs/configuration.md documents them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace valtronics::config {

using std::chrono::milliseconds;

struct AuthConfig {
  std::string jwt_secret;                      // required when HS256 is accepted, unless demo
  milliseconds auth_timeout{10'000};           // spec: connection must authenticate promptly
  milliseconds leeway{5'000};                  // clock skew tolerated on exp/nbf
  std::vector<std::string> allowed_origins;    // empty: only an Origin equal to Host; "*": any
  milliseconds expiry_warning{60'000};         // token_expiring this long before exp
  // ---- identity providers (docs/security.md, "Identity providers and key rotation") ----
  // The JWS algorithms accepted: HS256, RS256, ES256. The old single `algorithm` key sets it.
  std::vector<std::string> algorithms{"HS256"};
  std::string previous_jwt_secret;             // also accepted (HS256) during a secret rollover
  std::string public_key_file;                 // PEM public key or certificate: RS256/ES256
  std::string jwks_file;                       // JWK Set, key chosen by kid; reloaded on change
  std::string issuer;                          // when set, `iss` must equal it
  std::string audience;                        // when set, `aud` must be or contain it
};

struct LimitsConfig {
  std::size_t max_connections = 1000;          // spec: 1000 total
  std::size_t max_connections_per_user = 100;  // spec: 100 per user
  std::size_t connections_per_minute = 10;     // spec: 10 new connections per minute per address
  double messages_per_second = 100;            // spec: 100 messages per second per connection
  std::size_t max_message_bytes = 1024;        // spec: 1 KB per message
  std::size_t max_batch = 50;                  // spec: 50 messages per batch
  std::size_t max_batch_bytes = 51'200;        // a full batch of 1 KB messages
  std::size_t max_outbound_bytes = 1 << 20;    // per connection; beyond, telemetry conflates
  std::size_t max_subscriptions = 100;         // per connection
  milliseconds flood_close_after{5'000};       // still rate limited after this long: close 4008
  // A peer that reads nothing for this long while the server has frames for it (its socket
  // full) is closed with 4009 and counted; 0 disables. Generous: a paused tab is not dead.
  milliseconds write_timeout{30'000};
  // After this long without a byte from the peer the server pings; after as long again without
  // one, it closes with 4010. 0 disables. Below the idle timeouts of common proxies (60 s+).
  milliseconds idle_timeout{45'000};
  // A TLS handshake not finished within this is cut (slowloris in the handshake).
  milliseconds tls_handshake_timeout{10'000};
  // ---- abuse limits (issue 10) ----
  // Plain HTTP connections open at once (requests and upgrades in progress); beyond, 503.
  std::size_t max_http_connections = 1000;
  // Slowloris cuts, per phase of an HTTP request: the request line and headers (also the wait
  // for the next request on a kept-alive connection), then the body.
  milliseconds header_timeout{10'000};
  milliseconds body_timeout{30'000};
  // Bans: an address with this many bad tokens (WebSocket auth, handshake bearer, REST bearer)
  // within auth_failure_window is refused (403 ADDRESS_BANNED) for ban_duration; 0: no bans.
  std::size_t auth_failures_before_ban = 10;
  milliseconds auth_failure_window{60'000};
  milliseconds ban_duration{5 * 60'000};
  // WebSocket connections open but not yet authenticated; beyond, an upgrade is answered 503.
  // Each holds a socket and buffers for up to auth.auth_timeout without proving anything.
  std::size_t max_unauthenticated = 256;
  // Pings and pongs a client may send per second (token bucket, one second's burst): beyond, they
  // are ignored, and a client that keeps it up for flood_close_after is closed with 4008, as for
  // messages. Browsers and libraries send one ping every few seconds at most.
  double control_frames_per_second = 20;
  // Fan-out behind: when an I/O thread finds events that waited longer than this for it, it
  // sends each subscriber the latest value per device and metric (`"conflated":n`) instead of
  // every queued update. Alerts and status changes are never conflated. 0: never.
  milliseconds conflate_after{20};
};

struct IngestConfig {
  std::size_t max_items = 1000;                // readings per batch request
  std::size_t max_body_bytes = 1 << 20;        // 413 beyond
  bool auto_register = true;                   // telemetry for an unknown device registers it
  // Distinct metric names one device may have; a reading naming a new metric beyond is refused.
  std::size_t max_metrics_per_device = 1000;
};

struct DevicesConfig {
  milliseconds offline_after{5 * 60'000};      // no telemetry this long: offline
  bool critical_sets_warning = true;           // an active critical alert turns a device warning
  bool offline_alert = true;                   // going offline raises a `device` alert
};

struct TelemetryConfig {
  milliseconds retention{0};                   // history kept this long; 0: no history
  // (issue 14) History readings accepted and not yet committed beyond which ingest answers 503
  // write_queue with Retry-After (about a second of ingest at full speed, ~25 MB).
  std::size_t max_history_backlog = 262'144;
};

struct AlertsConfig {
  std::size_t replay_max_alerts = 10'000;      // since_alert_id replays at most this many
  milliseconds replay_max_age{7LL * 24 * 3'600'000};  // and nothing older than this
  // Resolved alerts are deleted this long after they were resolved (active and acknowledged
  // ones never are); 0 keeps every alert. A month of history, and the table stays bounded.
  milliseconds retention{30LL * 24 * 3'600'000};
  // (issue 15) An alert sent with `ack` and not acknowledged within this is sent again.
  milliseconds ack_timeout{30'000};
};

struct SystemConfig {
  milliseconds default_frequency{30'000};
  milliseconds min_frequency{1'000};
};

// (issue 10, durability) The server process itself.
struct ServerConfig {
  // SIGTERM/SIGINT drain (close 1001 to every client, commit every queued write) gets this long;
  // past it the process logs what was still pending and exits with kExitShutdownTimeout.
  milliseconds shutdown_timeout{5'000};
  // Peers (addresses or CIDR networks, IPv4 or IPv6) whose X-Forwarded-For / Forwarded headers
  // name the client's address (net/client_address.hpp). Empty: every header is ignored.
  std::vector<std::string> trusted_proxies;
  // (issue 11) Each I/O thread hands its flush's socket writes to the kernel in batches through
  // io_uring (net/flusher.hpp), when the build has liburing and the kernel allows a ring;
  // false: one sendmsg per connection.
  bool io_uring = true;
  // (issue 15) permessage-deflate (RFC 7692) offered by a client is accepted, always without
  // context takeover either way (no zlib state per connection); text messages of at least
  // deflate_min_bytes go out compressed.
  bool permessage_deflate = true;
  std::size_t deflate_min_bytes = 128;
  // (issue 14) The dashboard's built files (index.html and assets/), served at / . Empty: the
  // `web` folder beside the binary (the build tree), else <prefix>/share/valtronics/web (the
  // .deb); when neither holds an index.html, / answers 404 saying how to build it.
  std::string web_root;
};
// Exit code of `serve` when shutdown_timeout was hit (0: a clean drain; 2: a start-up error).
inline constexpr int kExitShutdownTimeout = 3;
// Transport security. TLS is on when `cert` and `key` are set: `listen` then speaks only TLS
// (wss://, https://). `ca_file` turns on client certificates (mTLS): a peer without a
// certificate signed by one of its CAs is refused in the handshake.
struct TlsConfig {
  std::string cert;                            // PEM certificate chain (leaf first)
  std::string key;                             // PEM private key of the leaf
  std::string ca_file;                         // PEM CAs of client certificates; empty: no mTLS
  bool enabled() const { return !cert.empty(); }
};

// (issue 12) MQTT ingest: the server subscribes to a broker and ingests what devices publish
// there (mqtt/ingest_link.hpp). Off while `url` is empty.
struct MqttConfig {
  std::string url;                      // mqtt://HOST[:PORT] (1883) or mqtts://HOST[:PORT] (8883)
  std::string username, password;       // broker credentials; empty: anonymous
  std::string client_id;                // empty: "valtronics-" + host name + "-" + listen port
  std::string topic_prefix = "valtronics";  // {prefix}/devices/{id}/telemetry[/{metric}], /status
  int qos = 1;                          // of the subscriptions: 0, 1 or 2
  std::string ca_file;                  // mqtts: PEM CAs of the broker; empty: the system's
  bool enabled() const { return !url.empty(); }
};

// (issue 12) Clustering: several nodes share one NATS server (or NATS cluster) and one
// PostgreSQL database (cluster/node.hpp, docs/deployment.md). Off while `nats_url` is empty.
struct ClusterConfig {
  std::string nats_url;  // nats://HOST[:PORT] (4222); several, comma-separated: a NATS cluster
  std::string node_id;   // empty: host name + "-" + listen port
  // Prefix of the subjects and the lease bucket: clusters sharing one NATS differ here.
  std::string name = "valtronics";
  unsigned partitions = 16;  // devices are spread over this many partitions: the same on every node
  // A partition whose owner stopped renewing its lease is free after this; a live node takes it
  // within one more lease check (a third of it).
  std::chrono::milliseconds lease_ttl{6000};
  bool enabled() const { return !nats_url.empty(); }
};

// (issue 13) Prometheus metrics: GET /metrics (docs/operations.md, "Metrics").
struct MetricsConfig {
  // A listener of its own that serves only /metrics ("HOST:PORT"); empty: /metrics is served on
  // the main listener(s). When set, the main listeners answer /metrics with 404.
  std::string listen_host;
  std::uint16_t listen_port = 0;
  // Addresses or CIDR networks that may scrape without a token; from anywhere else /metrics
  // needs an admin bearer token. The client address is the one net/client_address resolves
  // (forwarding headers count only from server.trusted_proxies).
  std::vector<std::string> allow{"127.0.0.0/8", "::1"};
  bool listen_enabled() const { return !listen_host.empty(); }
};

struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8000;
  unsigned threads = 1;
  std::string log_level = "info";
  // (issue 13) "text": human-readable lines; "json": one JSON object per line (docs/operations.md).
  std::string log_format = "text";
  bool demo = false;
  std::string db = "./valtronics.db";          // SQLite file; ":memory:" for a throwaway store
  // A second, plain listener beside the TLS one, for local use (e.g. "127.0.0.1:8080");
  // only with TLS on. Empty: none.
  std::string listen_plain_host;
  std::uint16_t listen_plain_port = 0;
  TlsConfig tls;
  AuthConfig auth;
  LimitsConfig limits;
  IngestConfig ingest;
  SystemConfig system;
  DevicesConfig devices;
  TelemetryConfig telemetry;
  AlertsConfig alerts;
  ServerConfig server;  // (issue 10, durability)
  MqttConfig mqtt;      // (issue 12)
  ClusterConfig cluster;  // (issue 12)
  MetricsConfig metrics;  // (issue 13)
};

// A configuration problem: `what()` is one line naming the key and the problem, e.g.
// "limits.max_connections: must be a positive integer". Start-up maps it to exit code 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads a TOML file over `base`. Unknown keys, wrong types, out-of-range values and bad
// durations are one ConfigError naming each such key with its line, on one line:
// "config: FILE:LINE: KEY: problem", or "config: FILE: N errors: LINE: KEY: problem; ...".
Config load_file(const std::string& path, Config base = {});

// Parses "HOST:PORT" (IPv6 as "[::1]:8000") into the config. Throws ConfigError naming `key`.
void set_listen(Config& cfg, const std::string& value, const std::string& key = "listen");
// The same for the plain listener beside TLS (`listen_plain`).
void set_listen_plain(Config& cfg, const std::string& value,
                      const std::string& key = "listen_plain");

// Checks cross-key rules (e.g. secret present unless demo, min_frequency <= default_frequency).
void validate(const Config& cfg);

// (issue 13) The configuration as TOML text, every key of every section (it loads back to the
// same values). With `mask_secrets`, secrets read "***" and URLs show no password (an unset
// secret stays ""): fit for a log or a terminal.
std::string render(const Config& cfg, bool mask_secrets = true);
// (issue 13, SIGHUP) The keys ("listen", "db", "cluster.nats_url") whose values differ between
// the running configuration and a reloaded one and that the running server cannot apply: a
// restart is needed for them. Live keys (config/table.hpp) are never listed.
std::vector<std::string> restart_needed(const Config& running, const Config& loaded);
// (issue 13, SIGHUP) The live keys whose values differ: what a reload applies (config/reload.cpp).
std::vector<std::string> live_changes(const Config& running, const Config& loaded);

}  // namespace valtronics::config
