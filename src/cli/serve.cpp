// `valtronics serve`: configuration (defaults < TOML file < flags < environment), then the server.
#include <openssl/rand.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "auth/jwt.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "app/application.hpp"
#include "util/log.hpp"

namespace valtronics::cli {

namespace {

struct ServeArgs {
  std::string config_file, listen, secret, log_level, log_format, db;
  std::string tls_cert, tls_key, tls_ca_file, listen_plain, mqtt_url, nats_url, node_id;
  unsigned threads = 0;
  bool demo = false;
};

std::string random_secret() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("cannot generate a secret");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

// Each connection is a file descriptor: lift the soft limit to the hard one so that
// limits.max_connections, not a 1024-descriptor default, is what bounds the server.
void raise_open_files_limit(std::size_t max_connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  // Room for the database, the listener and HTTP connections besides the WebSockets.
  if (lim.rlim_cur != RLIM_INFINITY && max_connections + 64 > lim.rlim_cur)
    spdlog::warn("limits.max_connections is {} but only {} file descriptors are allowed",
                 max_connections, static_cast<unsigned long long>(lim.rlim_cur));
}

// The host part of a URL a browser on this machine can open: a wildcard listener is reached
// on loopback; an IPv6 literal goes in brackets.
std::string browsable_host(const std::string& host) {
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "[::1]";
  if (host.find(':') != std::string::npos && host.front() != '[') return "[" + host + "]";
  return host;
}

void print_demo_banner(const config::Config& cfg, std::uint16_t port) {
  const auto now = util::Clock::now();
  auth::Claims admin;
  admin.sub = "demo-admin";
  admin.role = auth::Role::admin;
  admin.all_devices = true;
  auth::Claims user;
  user.sub = "demo-user";
  user.role = auth::Role::user;
  user.devices = {1, 2, 3};
  const auto day = std::chrono::hours(24);
  const std::string admin_token = auth::sign_token(cfg.auth.jwt_secret, admin, day, now);
  const std::string host = browsable_host(cfg.listen_host);
  const char* ws = cfg.tls.enabled() ? "wss" : "ws";
  std::printf(
      "Valtronics demo on %s://%s:%u/ws (simulated devices 1-5)\n"
      "admin token (every device, every channel, 24h):\n  %s\n"
      "user token (devices 1,2,3, 24h):\n  %s\n"
      "Watch it: build/valtronics listen %s://%s:%u --token %s -s 'telemetry:device_id=1,2' "
      "-s alerts -s devices\n"
      "or: /usr/bin/python3 -m websockets %s://%s:%u/ws  then send\n"
      "  {\"type\":\"auth\",\"token\":\"<admin token>\"}\n"
      "  {\"type\":\"subscribe\",\"channel\":\"telemetry\",\"device_id\":1}\n",
      ws, host.c_str(), port, admin_token.c_str(),
      auth::sign_token(cfg.auth.jwt_secret, user, day, now).c_str(), ws, host.c_str(), port,
      admin_token.c_str(), ws, host.c_str(), port);
  // Last, so it is what the terminal shows: the dashboard (docs/dashboard.md), the token in the
  // fragment, which the browser never sends to the server (nor to its access log).
  std::printf("Dashboard (open in a browser):\n  %s://%s:%u/#token=%s\n",
              cfg.tls.enabled() ? "https" : "http", host.c_str(), port, admin_token.c_str());
  std::fflush(stdout);
}
// The effective configuration: defaults < TOML file < flags < environment, validated. Run at
// start-up and again by SIGHUP (which keeps a --demo run's generated secret).
config::Config effective_config(const ServeArgs& args, const std::string& demo_secret = {}) {
  config::Config cfg;
  // The demo's own defaults, below the file: its charts want history (docs/telemetry.md), and
  // a file's telemetry.retention = "0s" still keeps latest values only.
  if (args.demo) cfg.telemetry.retention = std::chrono::hours(24);
  if (!args.config_file.empty()) cfg = config::load_file(args.config_file, cfg);
  if (!args.listen.empty()) config::set_listen(cfg, args.listen, "--listen");
  if (!args.secret.empty()) cfg.auth.jwt_secret = args.secret;
  if (const char* env = std::getenv("VALTRONICS_JWT_SECRET"); env && *env)
    cfg.auth.jwt_secret = env;
  if (!args.tls_cert.empty()) cfg.tls.cert = args.tls_cert;
  if (!args.tls_key.empty()) cfg.tls.key = args.tls_key;
  if (!args.tls_ca_file.empty()) cfg.tls.ca_file = args.tls_ca_file;
  if (!args.listen_plain.empty())
    config::set_listen_plain(cfg, args.listen_plain, "--listen-plain");
  if (!args.mqtt_url.empty()) cfg.mqtt.url = args.mqtt_url;
  if (!args.nats_url.empty()) cfg.cluster.nats_url = args.nats_url;
  if (!args.node_id.empty()) cfg.cluster.node_id = args.node_id;
  if (args.threads) cfg.threads = args.threads;
  if (!args.db.empty()) cfg.db = args.db;
  if (!args.log_level.empty()) {
    auto lvl = spdlog::level::from_str(args.log_level);
    if (lvl == spdlog::level::off && args.log_level != "off")
      throw config::ConfigError("--log-level: '" + args.log_level +
                                "' is not one of trace, debug, info, warn, error, critical, off");
    cfg.log_level = args.log_level;
  }
  if (!args.log_format.empty()) {
    if (args.log_format != "text" && args.log_format != "json")
      throw config::ConfigError("--log-format: '" + args.log_format +
                                "' is not one of text, json");
    cfg.log_format = args.log_format;
  }
  if (args.demo) cfg.demo = true;
  if (cfg.demo && cfg.auth.jwt_secret.empty())
    cfg.auth.jwt_secret = demo_secret.empty() ? random_secret() : demo_secret;
  config::validate(cfg);
  // The rule `config check` applies too (cli/config_cmd.cpp).
  if (auto problem = outbound_budget_problem(cfg); !problem.empty())
    throw config::ConfigError(problem);
  return cfg;
}
}  // namespace

Runner add_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "Run the real-time server");
  cmd->add_option("--config", args->config_file, "TOML configuration file");
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on (default 127.0.0.1:8000)");
  cmd->add_option("--jwt-secret", args->secret, "HS256 secret (env VALTRONICS_JWT_SECRET wins)");
  cmd->add_option("--threads", args->threads, "I/O threads (default 1)");
  cmd->add_option("--db", args->db, "SQLite database file (default ./valtronics.db; :memory:) or postgresql://USER@HOST:PORT/DB");
  cmd->add_option("--log-level", args->log_level,
                  "trace, debug, info, warn, error, critical or off");
  cmd->add_option("--log-format", args->log_format,
                  "text (default; coloured on a terminal) or json (one object per line)");
  cmd->add_option("--tls-cert", args->tls_cert,
                  "PEM certificate chain: serve wss:// and https:// (with --tls-key)");
  cmd->add_option("--tls-key", args->tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--tls-ca-file", args->tls_ca_file,
                  "PEM CAs of client certificates: require one (mTLS)");
  cmd->add_option("--listen-plain", args->listen_plain,
                  "HOST:PORT of a plain (no TLS) listener beside TLS, for local use");
  cmd->add_option("--mqtt-url", args->mqtt_url,
                  "Ingest what devices publish to this MQTT broker: mqtt://HOST[:PORT] or "
                  "mqtts://... (docs/mqtt.md)");
  cmd->add_option("--nats-url", args->nats_url,
                  "Join a cluster of nodes sharing this NATS server: nats://HOST[:PORT] "
                  "(needs a postgresql:// --db; docs/deployment.md)");
  cmd->add_option("--node-id", args->node_id,
                  "This node's name in the cluster (default: host name - port)");
  cmd->add_flag("--demo", args->demo,
                "Random secret unless given, printed tokens, simulated devices");
  cmd->footer(
      "Examples:\n"
      "  valtronics serve --demo\n"
      "  VALTRONICS_JWT_SECRET=... valtronics serve --config /etc/valtronics.toml\n"
      "  valtronics serve --listen 0.0.0.0:8443 --tls-cert cert.pem --tls-key key.pem --threads 4\n"
      "  valtronics serve --db postgresql://vt@db:5432/vt --nats-url nats://nats:4222 --node-id a");
  return [args] {
    config::Config cfg = effective_config(*args);
    util::set_log_format(cfg.log_format);
    spdlog::set_level(spdlog::level::from_str(cfg.log_level));
    spdlog::debug("effective configuration (secrets masked):\n{}", config::render(cfg, true));
    raise_open_files_limit(cfg.limits.max_connections);
    // SIGHUP reads the file again (app/config_reload.cpp); without a file only the TLS and
    // key files are reread.
    std::function<config::Config()> reread;
    if (!args->config_file.empty())
      reread = [args, secret = cfg.auth.jwt_secret] { return effective_config(*args, secret); };
    app::Application server(cfg, std::move(reread));
    if (cfg.demo) print_demo_banner(cfg, server.port());
    server.run();
    spdlog::info("stopped");
    return 0;
  };
}

}  // namespace valtronics::cli
