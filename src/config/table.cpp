// The key table (table.hpp). One entry per key: its doc, a setter that checks type and range and
// names the key in its error, and a getter that writes the value back as TOML. Cross-key rules
// are in validate() (config.cpp), which also sees values set by flags and the environment.

#include "config/table.hpp"

#include "config/values.hpp"

namespace valtronics::config {

namespace {

using namespace detail;
using V = toml::value;
using K = std::string;

// metrics.listen: the shapes of `listen`, parsed by set_listen on a scratch config; "": none.
void set_metrics_listen(Config& c, const std::string& value, const std::string& key) {
  if (value.empty()) {
    c.metrics.listen_host.clear();
    c.metrics.listen_port = 0;
    return;
  }
  Config scratch;
  set_listen(scratch, value, key);
  c.metrics.listen_host = scratch.listen_host;
  c.metrics.listen_port = scratch.listen_port;
}

std::vector<Section> make_table() {
  return {
      {.name = "",
       .doc = "",
       .live = false,
       .keys = {
           {.name = "listen",
            .doc = "Address to listen on: HOST:PORT, IPv6 as \"[::1]:8000\", port 0 for any free "
                   "port (printed at start). Loopback by default, so that a fresh install is not "
                   "reachable from the network until you choose to.",
            .set = [](Config& c, const V& v, const K& k) { set_listen(c, string_value(v, k), k); },
            .get = [](const Config& c) { return toml_listen(c.listen_host, c.listen_port); }},
           {.name = "listen_plain",
            .doc = "With TLS on ([tls]), a second listener without TLS for local tools, e.g. "
                   "\"127.0.0.1:8080\" (same shapes as listen); \"\": none. Keep it on the "
                   "loopback: what reaches it travels in clear.",
            .set = [](Config& c, const V& v, const K& k) {
              set_listen_plain(c, string_value(v, k), k);
            },
            .get = [](const Config& c) {
              return toml_listen(c.listen_plain_host, c.listen_plain_port);
            }},
           {.name = "threads",
            .doc = "I/O threads, each owning its connections and a shard of the subscription "
                   "index. One serves thousands of connections; raise it to the number of cores "
                   "under load.",
            .set = [](Config& c, const V& v, const K& k) {
              const auto n = positive_size(v, k);
              if (n > kMaxThreads) fail(k + ": must be at most " + std::to_string(kMaxThreads));
              c.threads = static_cast<unsigned>(n);
            },
            .get = [](const Config& c) { return toml_integer(c.threads); }},
           {.name = "log_level",
            .doc = "trace, debug, info, warn, error, critical or off; debug logs one line per "
                   "message in and out.",
            .set = [](Config& c, const V& v, const K& k) {
              const auto level = string_value(v, k);
              if (!valid_log_level(level))
                fail(k + ": expected one of trace, debug, info, warn, error, critical, off, got " +
                     in_quotes(level));
              c.log_level = level;
            },
            .get = [](const Config& c) { return toml_string(c.log_level); },
            .live = true},
           {.name = "log_format",
            .doc = "\"text\": human-readable log lines; \"json\": one JSON object per line, for "
                   "log collectors.",
            .set = [](Config& c, const V& v, const K& k) {
              const auto format = string_value(v, k);
              if (!valid_log_format(format))
                fail(k + ": expected \"text\" or \"json\", got " + in_quotes(format));
              c.log_format = format;
            },
            .get = [](const Config& c) { return toml_string(c.log_format); }},
           {.name = "demo",
            .doc = "Demo mode: a random secret unless one is given, printed admin and user "
                   "tokens, simulated devices, demo devices and rules seeded into an empty "
                   "database. Never for production.",
            .set = [](Config& c, const V& v, const K& k) { c.demo = bool_value(v, k); },
            .get = [](const Config& c) { return toml_bool(c.demo); }},
           {.name = "db",
            .doc = "Where the store keeps devices, rules, alerts and latest values: a SQLite "
                   "file (WAL mode; \":memory:\" keeps nothing across restarts), or a PostgreSQL "
                   "database, \"postgresql://USER[:PASSWORD]@HOST:PORT/DBNAME\" (any libpq URI).",
            .set = [](Config& c, const V& v, const K& k) {
              c.db = string_value(v, k);
              if (c.db.empty())
                fail(k + ": expected a file path, \":memory:\" or a postgresql:// URI");
            },
            .get = [](const Config& c) { return toml_string(c.db); },
            .secret = Secret::url_password},
       }},
      {.name = "tls",
       .doc = "Transport security (docs/security.md): with cert and key set, listen speaks only "
              "TLS (wss://, https://).",
       .live = false,
       .keys = {
           {.name = "cert",
            .doc = "PEM certificate chain (leaf first) for wss:// and https:// on listen; needs "
                   "key. Empty: no TLS, listen is plain. A bad file on SIGHUP keeps the old one.",
            .set = [](Config& c, const V& v, const K& k) { c.tls.cert = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.tls.cert); }},
           {.name = "key",
            .doc = "PEM private key of cert; a key that does not match the certificate stops "
                   "start-up naming the file.",
            .set = [](Config& c, const V& v, const K& k) { c.tls.key = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.tls.key); }},
           {.name = "ca_file",
            .doc = "PEM CAs of client certificates: set, every TLS client must present a "
                   "certificate one of them signed (mTLS, e.g. for devices). Empty: no client "
                   "certificates asked for. Needs TLS on.",
            .set = [](Config& c, const V& v, const K& k) { c.tls.ca_file = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.tls.ca_file); }},
       }},
      {.name = "auth",
       .doc = "Authentication: the JWT of a WebSocket's auth message and of a handshake's or a "
              "REST request's bearer header (docs/security.md).",
       .live = false,
       .keys = {
           {.name = "jwt_secret",
            .doc = "HS256 secret. No default on purpose: without one (here, --jwt-secret or the "
                   "environment variable VALTRONICS_JWT_SECRET, which wins) the server refuses to "
                   "start unless demo = true. Prefer the environment variable to writing it into "
                   "a file.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.jwt_secret = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.auth.jwt_secret); },
            .secret = Secret::whole},
           {.name = "auth_timeout",
            .doc = "Spec: a connection must authenticate promptly; without a valid auth message "
                   "within this it is closed with 4001.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.auth_timeout = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.auth.auth_timeout); }},
           {.name = "leeway",
            .doc = "Clock skew tolerated on exp and nbf between the token issuer and this "
                   "server; \"0s\": none.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.leeway = duration_value(v, k, true);
            },
            .get = [](const Config& c) { return toml_duration(c.auth.leeway); }},
           {.name = "allowed_origins",
            .doc = "Browser origins allowed besides the Host's own. Empty: only browsers whose "
                   "Origin equals the Host header; [\"*\"]: any origin.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.allowed_origins = string_array(v, k);
            },
            .get = [](const Config& c) { return toml_strings(c.auth.allowed_origins); },
            .live = true},
           {.name = "expiry_warning",
            .doc = "token_expiring is sent this long before exp, so that clients can refresh "
                   "without reconnecting; \"0s\": never.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.expiry_warning = duration_value(v, k, true);
            },
            .get = [](const Config& c) { return toml_duration(c.auth.expiry_warning); }},
           {.name = "algorithms",
            .doc = "The JWS algorithms accepted, pinned so that a token cannot choose its own "
                   "(\"none\", HS256 signed with the RSA public key, ...): any of \"HS256\", "
                   "\"RS256\", \"ES256\" (docs/security.md, \"Identity providers and key "
                   "rotation\").",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.algorithms = algorithms_value(string_array(v, k), k);
            },
            .get = [](const Config& c) { return toml_strings(c.auth.algorithms); }},
           {.name = "algorithm",
            .doc = "The older spelling of algorithms, from before RS256/ES256: one algorithm, "
                   "the same as a list of one.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.algorithms = algorithms_value({string_value(v, k)}, k);
            },
            .get = [](const Config& c) { return toml_strings(c.auth.algorithms); },
            .alias = true},
           {.name = "previous_jwt_secret",
            .doc = "HS256 secret rollover: a second secret accepted while tokens signed with it "
                   "are still alive. Empty: none.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.previous_jwt_secret = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.auth.previous_jwt_secret); },
            .secret = Secret::whole},
           {.name = "public_key_file",
            .doc = "RS256/ES256: a PEM public key or certificate (RSA of 2048 bits or more, EC "
                   "P-256) that tokens are verified with; not with jwks_file. Empty: none.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.public_key_file = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.auth.public_key_file); }},
           {.name = "jwks_file",
            .doc = "RS256/ES256: a JWK Set, the key chosen by the token's kid; re-read when the "
                   "file changes (checked at most once a second). Empty: none.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.jwks_file = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.auth.jwks_file); }},
           {.name = "issuer",
            .doc = "When set, a token's iss must equal it.",
            .set = [](Config& c, const V& v, const K& k) { c.auth.issuer = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.auth.issuer); }},
           {.name = "audience",
            .doc = "When set, a token's aud (a string or an array) must be or contain it.",
            .set = [](Config& c, const V& v, const K& k) {
              c.auth.audience = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.auth.audience); }},
       }},
      {.name = "limits",
       .doc = "Limits per connection and for the whole server (the spec's, where it names one).",
       .live = true,
       .keys = {
           {.name = "max_connections",
            .doc = "Spec: 1000 open WebSockets in total; beyond, the handshake is refused with "
                   "HTTP 503.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_connections = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_connections); }},
           {.name = "max_connections_per_user",
            .doc = "Spec: 100 connections per user (token sub); the extra one is closed with "
                   "4029.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_connections_per_user = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_connections_per_user); }},
           {.name = "connections_per_minute",
            .doc = "Spec: 10 new WebSockets per minute per client address; beyond, HTTP 429.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.connections_per_minute = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.connections_per_minute); }},
           {.name = "messages_per_second",
            .doc = "Spec: 100 messages per second per connection; extra messages get error "
                   "rate_limited.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.messages_per_second = positive_number(v, k);
            },
            .get = [](const Config& c) { return toml_number(c.limits.messages_per_second); }},
           {.name = "max_message_bytes",
            .doc = "Spec: 1 KB per message; a larger frame closes the connection with 1009.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_message_bytes = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_message_bytes); }},
           {.name = "max_batch",
            .doc = "Spec: at most 50 messages in one batch.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_batch = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_batch); }},
           {.name = "max_batch_bytes",
            .doc = "A batch frame may be this large: a full batch of 1 KB messages (50 x 1024 "
                   "bytes), so that a legal batch always fits. At least max_message_bytes.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_batch_bytes = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_batch_bytes); }},
           {.name = "max_outbound_bytes",
            .doc = "Bytes queued per connection: 1 MiB keeps memory bounded. Beyond 3/4 of it "
                   "telemetry conflates to the latest values, beyond it reliable messages close "
                   "with 4009. Must hold the largest single stored message (an alert or device "
                   "status frame).",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_outbound_bytes = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_outbound_bytes); }},
           {.name = "max_subscriptions",
            .doc = "(channel, device) subscriptions per connection: enough for a dashboard with "
                   "one per device of a large site.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_subscriptions = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_subscriptions); }},
           {.name = "flood_close_after",
            .doc = "A client still rate limited (messages or control frames) after this long is "
                   "closed with 4008 instead of being served errors.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.flood_close_after = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.flood_close_after); }},
           {.name = "write_timeout",
            .doc = "A peer whose socket stays full (it reads nothing) this long while frames "
                   "wait for it is closed with 4009; \"0s\" disables. Generous: a paused tab is "
                   "not dead.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.write_timeout = duration_value(v, k, true);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.write_timeout); }},
           {.name = "idle_timeout",
            .doc = "Silent this long: the server pings; silent as long again: closed with 4010. "
                   "\"0s\" disables. Below the idle timeouts of common proxies (60 s and more).",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.idle_timeout = duration_value(v, k, true);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.idle_timeout); }},
           {.name = "tls_handshake_timeout",
            .doc = "A TLS handshake not finished within this is cut (a slowloris in the "
                   "handshake).",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.tls_handshake_timeout = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.tls_handshake_timeout); }},
           {.name = "max_http_connections",
            .doc = "Plain HTTP connections open at once (requests and upgrades in progress); "
                   "beyond, HTTP 503 with a JSON body, and close.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_http_connections = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_http_connections); }},
           {.name = "header_timeout",
            .doc = "Slowloris cut: the request line and headers (and the wait for a kept-alive "
                   "connection's next request) must arrive within this; else the connection is "
                   "dropped.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.header_timeout = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.header_timeout); }},
           {.name = "body_timeout",
            .doc = "Slowloris cut: a request body must arrive within this after its headers; "
                   "else the connection is dropped.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.body_timeout = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.body_timeout); }},
           {.name = "max_unauthenticated",
            .doc = "WebSockets open but not yet authenticated: each holds a socket for up to "
                   "auth.auth_timeout without proving anything. Beyond, an upgrade is answered "
                   "503 (details.limit names this key).",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.max_unauthenticated = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.limits.max_unauthenticated); }},
           {.name = "auth_failures_before_ban",
            .doc = "Bans: this many bad tokens (WebSocket auth or handshake bearer, REST bearer) "
                   "from one client address within auth_failure_window refuse it for "
                   "ban_duration (403 ADDRESS_BANNED with Retry-After). 10 in a minute is far "
                   "beyond a mistyped token. 0 disables bans (failures are still counted and "
                   "logged).",
            .set = [](Config& c, const V& v, const K& k) {
              if (!v.is_integer() || v.as_integer() < 0)
                fail(k + ": expected a non-negative integer (0 disables bans), got " +
                     describe(v));
              c.limits.auth_failures_before_ban = static_cast<std::size_t>(v.as_integer());
            },
            .get = [](const Config& c) { return toml_integer(c.limits.auth_failures_before_ban); }},
           {.name = "auth_failure_window",
            .doc = "The window bad tokens are counted in, from the first one.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.auth_failure_window = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.auth_failure_window); }},
           {.name = "ban_duration",
            .doc = "How long a ban lasts: a guesser gets auth_failures_before_ban tries per this "
                   "long.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.ban_duration = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.ban_duration); }},
           {.name = "control_frames_per_second",
            .doc = "Pings and pongs a client may send per second (bursts of one second's worth): "
                   "beyond, they are ignored, and a client still over it after flood_close_after "
                   "is closed with 4008.",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.control_frames_per_second = positive_number(v, k);
            },
            .get = [](const Config& c) {
              return toml_number(c.limits.control_frames_per_second);
            }},
           {.name = "conflate_after",
            .doc = "Fan-out behind its publishers: updates that waited this long for their I/O "
                   "thread, or arrive in a batch that would take longer than this to deliver "
                   "(at the cost per delivery the thread measures), go out conflated (the "
                   "latest value per device and metric, with \"conflated\":n); alerts and "
                   "status changes never are. \"0s\" never conflates (latency then grows with "
                   "the backlog).",
            .set = [](Config& c, const V& v, const K& k) {
              c.limits.conflate_after = duration_value(v, k, true);
            },
            .get = [](const Config& c) { return toml_duration(c.limits.conflate_after); }},
       }},
      {.name = "ingest",
       .doc = "The ingest API: POST /api/v1/telemetry.",
       .live = false,
       .keys = {
           {.name = "max_items",
            .doc = "Readings per batch request (an item with several metrics counts one per "
                   "metric); beyond, 400 VALIDATION_ERROR.",
            .set = [](Config& c, const V& v, const K& k) {
              c.ingest.max_items = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.ingest.max_items); }},
           {.name = "max_body_bytes",
            .doc = "Larger request bodies get 413 before they are parsed; 1 MiB fits a full "
                   "batch.",
            .set = [](Config& c, const V& v, const K& k) {
              c.ingest.max_body_bytes = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.ingest.max_body_bytes); }},
           {.name = "auto_register",
            .doc = "Telemetry for an unknown device registers it (as the platform's devices "
                   "expect); false: such requests are refused with 404 DEVICE_NOT_FOUND.",
            .set = [](Config& c, const V& v, const K& k) {
              c.ingest.auto_register = bool_value(v, k);
            },
            .get = [](const Config& c) { return toml_bool(c.ingest.auto_register); }},
           {.name = "max_metrics_per_device",
            .doc = "Distinct metric names one device may have; a request that would add one "
                   "more is refused whole (400).",
            .set = [](Config& c, const V& v, const K& k) {
              c.ingest.max_metrics_per_device = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.ingest.max_metrics_per_device); }},
       }},
      {.name = "devices",
       .doc = "Device status (docs/devices.md).",
       .live = false,
       .keys = {
           {.name = "offline_after",
            .doc = "No telemetry this long: the device is offline (the platform's docs call a "
                   "device stale after 5 minutes without data).",
            .set = [](Config& c, const V& v, const K& k) {
              c.devices.offline_after = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.devices.offline_after); }},
           {.name = "critical_sets_warning",
            .doc = "An active critical alert turns an online device \"warning\" until its "
                   "critical alerts resolve.",
            .set = [](Config& c, const V& v, const K& k) {
              c.devices.critical_sets_warning = bool_value(v, k);
            },
            .get = [](const Config& c) { return toml_bool(c.devices.critical_sets_warning); }},
           {.name = "offline_alert",
            .doc = "A device going offline raises a `device` alert (resolved when it comes "
                   "back).",
            .set = [](Config& c, const V& v, const K& k) {
              c.devices.offline_alert = bool_value(v, k);
            },
            .get = [](const Config& c) { return toml_bool(c.devices.offline_alert); }},
       }},
      {.name = "telemetry",
       .doc = "Telemetry history.",
       .live = false,
       .keys = {
           {.name = "retention",
            .doc = "How long every reading is kept in the history table, pruned in batches "
                   "with its per-minute rollups, and read back by /api/v1/telemetry "
                   "(docs/telemetry.md); \"0s\" keeps only the latest values. `serve --demo` "
                   "keeps 24h unless this file sets it.",
            .set = [](Config& c, const V& v, const K& k) {
              c.telemetry.retention = duration_value(v, k, true);
            },
            .get = [](const Config& c) { return toml_duration(c.telemetry.retention); }},
           {.name = "max_history_backlog",
            .doc = "History readings accepted and not yet committed (about 100 bytes each) "
                   "beyond which ingest answers 503 `write_queue` with Retry-After, so that a "
                   "database slower than the devices bounds memory instead of growing it.",
            .set = [](Config& c, const V& v, const K& k) {
              c.telemetry.max_history_backlog = positive_size(v, k);
            },
            .get = [](const Config& c) {
              return toml_integer(c.telemetry.max_history_backlog);
            }},
       }},
      {.name = "alerts",
       .doc = "Alert replay and retention (docs/alerts.md).",
       .live = false,
       .keys = {
           {.name = "replay_max_alerts",
            .doc = "A since_alert_id replay sends at most this many alerts; beyond, `recovered` "
                   "is false.",
            .set = [](Config& c, const V& v, const K& k) {
              c.alerts.replay_max_alerts = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.alerts.replay_max_alerts); }},
           {.name = "replay_max_age",
            .doc = "A replay sends no alert older than this.",
            .set = [](Config& c, const V& v, const K& k) {
              c.alerts.replay_max_age = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.alerts.replay_max_age); }},
           {.name = "retention",
            .doc = "Resolved alerts are deleted this long after they were resolved, in batches, "
                   "so that the table stays bounded; active and acknowledged ones are kept. "
                   "\"0s\" keeps every alert.",
            .set = [](Config& c, const V& v, const K& k) {
              c.alerts.retention = duration_value(v, k, true);
            },
            .get = [](const Config& c) { return toml_duration(c.alerts.retention); }},
           {.name = "ack_timeout",
            .doc = "An alert sent to a subscription with `ack` (docs/protocol.md, "
                   "\"Acknowledged alerts\") and not acknowledged within this is sent again, "
                   "with the same delivery_id.",
            .set = [](Config& c, const V& v, const K& k) {
              c.alerts.ack_timeout = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.alerts.ack_timeout); }},
       }},
      {.name = "server",
       .doc = "The server process.",
       .live = false,
       .keys = {
           {.name = "shutdown_timeout",
            .doc = "SIGTERM/SIGINT drain: clients get close 1001 and every queued write is "
                   "committed within this; past it the server logs what was pending and exits "
                   "with code 3 (readings answered 202 and not yet committed are then lost; see "
                   "docs/security.md, \"Durability and faults\").",
            .set = [](Config& c, const V& v, const K& k) {
              c.server.shutdown_timeout = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.server.shutdown_timeout); }},
           {.name = "trusted_proxies",
            .doc = "Reverse proxies (addresses or CIDR networks, IPv4 or IPv6) whose "
                   "X-Forwarded-For (or, without one, Forwarded: for=) names the client: the "
                   "right-most address in it that is not a trusted proxy is the client's. Headers "
                   "from any other peer are ignored. Empty: no proxy is trusted, every client is "
                   "its peer address. E.g. [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\"].",
            .set = [](Config& c, const V& v, const K& k) {
              c.server.trusted_proxies = string_array(v, k);
              check_networks(c.server.trusted_proxies, k);
            },
            .get = [](const Config& c) { return toml_strings(c.server.trusted_proxies); }},
           {.name = "io_uring",
            .doc = "Each I/O thread's flush hands the kernel up to 64 connections' writes in one "
                   "io_uring submission instead of one sendmsg each: about 0.7x the server CPU "
                   "when many subscribers each get a little (docs/benchmarks.md, issue 11). "
                   "Needs liburing at build time and a kernel that allows io_uring; otherwise, or "
                   "with false, each connection gets its own sendmsg. The log line \"socket "
                   "writes: ...\" after \"listening on\" says which is in use, and why.",
            .set = [](Config& c, const V& v, const K& k) { c.server.io_uring = bool_value(v, k); },
            .get = [](const Config& c) { return toml_bool(c.server.io_uring); }},
           {.name = "permessage_deflate",
            .doc = "Accept permessage-deflate (RFC 7692) when a client offers it (browsers and "
                   "most libraries do), always with server_no_context_takeover and "
                   "client_no_context_takeover: a connection holds no compression state, and an "
                   "update is compressed once per I/O thread whatever its number of receivers "
                   "(docs/protocol.md, \"Compression\").",
            .set = [](Config& c, const V& v, const K& k) {
              c.server.permessage_deflate = bool_value(v, k);
            },
            .get = [](const Config& c) { return toml_bool(c.server.permessage_deflate); }},
           {.name = "deflate_min_bytes",
            .doc = "With permessage-deflate, text messages shorter than this go out "
                   "uncompressed (compressing a few bytes gains nothing).",
            .set = [](Config& c, const V& v, const K& k) {
              c.server.deflate_min_bytes = positive_size(v, k);
            },
            .get = [](const Config& c) { return toml_integer(c.server.deflate_min_bytes); }},
           {.name = "web_root",
            .doc = "The folder of the browser dashboard (index.html and assets/), served at / "
                   "(docs/dashboard.md). Empty: the `web` folder beside the binary (what `make` "
                   "builds), else /usr/share/valtronics/web (the .deb). Read at start.",
            .set = [](Config& c, const V& v, const K& k) { c.server.web_root = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.server.web_root); }},
       }},
      {.name = "system",
       .doc = "The system channel: system_status_update.",
       .live = false,
       .keys = {
           {.name = "default_frequency",
            .doc = "Spec: system_status_update every 30 s unless the subscription asks for "
                   "another frequency.",
            .set = [](Config& c, const V& v, const K& k) {
              c.system.default_frequency = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.system.default_frequency); }},
           {.name = "min_frequency",
            .doc = "The smallest frequency a subscription may ask for: reading /proc more often "
                   "than once a second costs more than the numbers are worth.",
            .set = [](Config& c, const V& v, const K& k) {
              c.system.min_frequency = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.system.min_frequency); }},
       }},
      {.name = "mqtt",
       .doc = "MQTT ingest (docs/mqtt.md): the server subscribes to a broker and ingests what "
              "devices publish on {topic_prefix}/devices/{id}/telemetry[/{metric}] and "
              ".../status. Off while url is empty.",
       .live = false,
       .keys = {
           {.name = "url",
            .doc = "mqtt://HOST[:PORT] (1883) or mqtts://HOST[:PORT] (8883, TLS); also the flag "
                   "--mqtt-url. Empty: no MQTT ingest.",
            .set = [](Config& c, const V& v, const K& k) { c.mqtt.url = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.mqtt.url); },
            .secret = Secret::url_password},
           {.name = "username",
            .doc = "Broker user name; empty: anonymous (or the one in the URL).",
            .set = [](Config& c, const V& v, const K& k) { c.mqtt.username = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.mqtt.username); }},
           {.name = "password",
            .doc = "Broker password, with username.",
            .set = [](Config& c, const V& v, const K& k) { c.mqtt.password = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.mqtt.password); },
            .secret = Secret::whole},
           {.name = "client_id",
            .doc = "The server's MQTT client id. Empty: \"valtronics-<host name>-<listen port>\". "
                   "Keep it stable: the broker keeps the session's QoS 1 messages for this id "
                   "while the server is away.",
            .set = [](Config& c, const V& v, const K& k) {
              c.mqtt.client_id = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.mqtt.client_id); }},
           {.name = "topic_prefix",
            .doc = "Topics are {prefix}/devices/{id}/telemetry[/{metric}] and "
                   "{prefix}/devices/{id}/status; no wildcards, no leading or trailing /.",
            .set = [](Config& c, const V& v, const K& k) {
              c.mqtt.topic_prefix = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.mqtt.topic_prefix); }},
           {.name = "qos",
            .doc = "QoS of the server's subscriptions: 0, 1 or 2.",
            .set = [](Config& c, const V& v, const K& k) {
              if (!v.is_integer() || v.as_integer() < 0 || v.as_integer() > 2)
                fail(k + ": expected 0, 1 or 2, got " + describe(v));
              c.mqtt.qos = static_cast<int>(v.as_integer());
            },
            .get = [](const Config& c) { return std::to_string(c.mqtt.qos); }},
           {.name = "ca_file",
            .doc = "mqtts:// only: PEM CAs of the broker's certificate; empty: the system's CAs.",
            .set = [](Config& c, const V& v, const K& k) { c.mqtt.ca_file = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.mqtt.ca_file); }},
       }},
      {.name = "cluster",
       .doc = "Several nodes sharing one NATS (with JetStream) and one PostgreSQL database "
              "(docs/deployment.md). Off while nats_url is empty.",
       .live = false,
       .keys = {
           {.name = "nats_url",
            .doc = "nats://HOST[:PORT], several comma-separated for a NATS cluster; credentials "
                   "in the URL (nats://USER:PASSWORD@..., nats://TOKEN@...), tls:// for TLS; also "
                   "--nats-url. Empty: a single node. Needs db = \"postgresql://...\": a SQLite "
                   "database with a cluster is refused.",
            .set = [](Config& c, const V& v, const K& k) {
              c.cluster.nats_url = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.cluster.nats_url); },
            .secret = Secret::url_userinfo},
           {.name = "node_id",
            .doc = "This node's name among the nodes (letters, digits, _ and -): unique, stable "
                   "across restarts. Empty: \"<host name>-<listen port>\".",
            .set = [](Config& c, const V& v, const K& k) {
              c.cluster.node_id = string_value(v, k);
            },
            .get = [](const Config& c) { return toml_string(c.cluster.node_id); }},
           {.name = "name",
            .doc = "Prefix of the NATS subjects, the lease bucket and the MQTT share group: two "
                   "clusters on one NATS differ here.",
            .set = [](Config& c, const V& v, const K& k) { c.cluster.name = string_value(v, k); },
            .get = [](const Config& c) { return toml_string(c.cluster.name); }},
           {.name = "partitions",
            .doc = "Devices are spread over this many partitions (1 to 1024), one owner each: "
                   "the same on every node.",
            .set = [](Config& c, const V& v, const K& k) {
              const auto n = positive_size(v, k);
              if (n > 1024) fail(k + ": must be at most 1024, got " + std::to_string(n));
              c.cluster.partitions = static_cast<unsigned>(n);
            },
            .get = [](const Config& c) { return toml_integer(c.cluster.partitions); }},
           {.name = "lease_ttl",
            .doc = "A dead node's partitions are free this long after its last renewal (renewed "
                   "every third of it); at least 1s.",
            .set = [](Config& c, const V& v, const K& k) {
              c.cluster.lease_ttl = duration_value(v, k, false);
            },
            .get = [](const Config& c) { return toml_duration(c.cluster.lease_ttl); }},
       }},
      {.name = "metrics",
       .doc = "Prometheus metrics: GET /metrics.",
       .live = false,
       .keys = {
           {.name = "listen",
            .doc = "A listener of its own serving only /metrics, \"HOST:PORT\" (same shapes as "
                   "listen); the main listeners then answer /metrics with 404. Empty: /metrics "
                   "is served on the main listener(s).",
            .set = [](Config& c, const V& v, const K& k) {
              set_metrics_listen(c, string_value(v, k), k);
            },
            .get = [](const Config& c) {
              return toml_listen(c.metrics.listen_host, c.metrics.listen_port);
            }},
           {.name = "allow",
            .doc = "Addresses or CIDR networks that may scrape /metrics without a token; from "
                   "anywhere else it needs an admin bearer token. The client address is the one "
                   "server.trusted_proxies resolves.",
            .set = [](Config& c, const V& v, const K& k) {
              c.metrics.allow = string_array(v, k);
              check_networks(c.metrics.allow, k);
            },
            .get = [](const Config& c) { return toml_strings(c.metrics.allow); }},
       }},
  };
}

}  // namespace

const std::vector<Section>& table() {
  static const std::vector<Section> kTable = make_table();
  return kTable;
}

const Section* find_section(std::string_view name) {
  for (const auto& s : table())
    if (name == s.name) return &s;
  return nullptr;
}

const Key* find_key(const Section& section, std::string_view name) {
  for (const auto& k : section.keys)
    if (name == k.name) return &k;
  return nullptr;
}

std::string full_name(const Section& section, const Key& key) {
  return *section.name ? std::string(section.name) + "." + key.name : std::string(key.name);
}

bool is_live(const Section& section, const Key& key) { return section.live || key.live; }

std::string value_text(const Key& key, const Config& cfg, bool mask) {
  std::string text = key.get(cfg);
  if (!mask || key.secret == Secret::none || text == "\"\"") return text;
  if (key.secret == Secret::whole) return "\"***\"";
  // Masked inside the quotes: the characters masking looks for (':', '@', "password=", '&')
  // are never part of a TOML escape, so a masked span never splits one.
  const std::string inner = text.substr(1, text.size() - 2);
  return "\"" + mask_url(inner, key.secret == Secret::url_userinfo) + "\"";
}

}  // namespace valtronics::config
