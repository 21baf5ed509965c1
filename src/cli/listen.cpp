// `valtronics listen URL --token T --subscribe SPEC...`: subscribes through the C++ client SDK
// and prints what arrives, one line per message (readable, or the server's JSON with --json),
// reconnecting on its own. Exit codes (docs/cli.md): 0 on SIGINT/SIGTERM, 1 when reconnecting
// gave up (--max-attempts), 2 bad arguments, 3 authentication failed, 4 a subscription refused.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/stop_signal.hpp"
#include "client/client.hpp"
#include "client/format.hpp"
#include "client/subscribe_spec.hpp"
#include "config/config.hpp"
#include "util/time.hpp"

namespace valtronics::cli {

namespace {

constexpr int kExitGaveUp = 1, kExitAuth = 3, kExitRefused = 4;

struct ListenArgs {
  std::string url, token, token_file, ca_file;
  std::vector<std::string> subscribe;
  bool json = false, insecure = false, quiet = false, no_compression = false;
  bool no_coalesce = false;
  bool msgpack = false;
  std::string backoff_base = "500ms", backoff_cap = "30s", ping_interval = "15s";
  unsigned max_attempts = 0;
};

std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text,
                                        bool allow_zero = false) {
  if (allow_zero && (text == "0" || text == "off")) return std::chrono::milliseconds(0);
  auto d = util::parse_duration(text);
  if (!d) throw config::ConfigError(flag + ": '" + text + "' is not a duration like 500ms, 2s, 1m");
  return *d;
}

// The token file is read again before every authentication, so that a token rotated on disk by
// another process is what the next auth (a reconnect or a refresh on token_expiring) presents.
// A rotator that rewrites the file in place (`echo $T > file`) leaves it empty for a moment
// between the truncate and the write, so an empty file is read again for up to half a second
// before it counts as an error (CI once read it in that gap).
std::string read_token_file(const std::string& path) {
  constexpr int kEmptyRetries = 20;
  constexpr auto kEmptyPause = std::chrono::milliseconds(25);
  for (int attempt = 0;; ++attempt) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read token file " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string t = ss.str();
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
    if (!t.empty()) return t;
    if (attempt == kEmptyRetries)
      throw std::runtime_error("token file " + path + " is empty");
    std::this_thread::sleep_for(kEmptyPause);
  }
}

void print_line(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void note(bool quiet, const std::string& text) {
  if (quiet) return;
  std::fprintf(stderr, "listen: %s\n", text.c_str());
  std::fflush(stderr);
}

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

}  // namespace

Runner add_listen(CLI::App& app) {
  auto a = std::make_shared<ListenArgs>();
  auto* cmd = app.add_subcommand("listen", "Subscribe and print updates as they arrive");
  cmd->add_option("url", a->url, "ws://HOST:PORT[/ws] or wss://... (/ws/<channel> works too)")
      ->required();
  cmd->add_option("--token", a->token, "JWT (or env VALTRONICS_TOKEN)");
  cmd->add_option("--token-file", a->token_file,
                  "File holding the JWT, read again before every auth (rotation, refresh)");
  cmd->add_option("--subscribe,-s", a->subscribe,
                  "CHANNEL[:KEY=V1,V2;KEY=V], e.g. telemetry:device_id=1,2;metrics=temperature "
                  "(repeatable)")
      // One value per flag: `listen -s alerts ws://...` must leave the URL to the positional.
      ->allow_extra_args(false);
  cmd->add_flag("--json", a->json, "Print each server message as one JSON line");
  cmd->add_flag("--quiet,-q", a->quiet, "No connection notes on stderr");
  cmd->add_flag("--no-compression", a->no_compression,
                "Do not offer permessage-deflate (compression is offered by default)");
  cmd->add_flag("--no-coalesce", a->no_coalesce,
                "Do not ask for coalesced frames (JSON arrays of messages; asked by default)");
  cmd->add_flag("--msgpack", a->msgpack,
                "Exchange MessagePack instead of JSON (the valtronics.msgpack subprotocol); "
                "messages are still printed as JSON");
  cmd->add_option("--ca-file", a->ca_file, "PEM CA file for wss:// (default: system CAs)");
  cmd->add_flag("--insecure", a->insecure, "wss:// without certificate verification");
  cmd->add_option("--backoff-base", a->backoff_base, "First reconnect window (default 500ms)");
  cmd->add_option("--backoff-cap", a->backoff_cap, "Largest reconnect window (default 30s)");
  cmd->add_option("--max-attempts", a->max_attempts,
                  "Reconnect attempts before giving up (default 0: never give up)");
  cmd->add_option("--ping-interval", a->ping_interval, "Keepalive ping period, 0 = off (default 15s)");
  cmd->footer(
      "Examples:\n"
      "  valtronics listen ws://127.0.0.1:8000 --token $T -s 'telemetry:device_id=1,2' -s alerts\n"
      "  valtronics listen ws://127.0.0.1:8000/ws/alerts --token-file /run/token --json\n"
      "  valtronics listen wss://iot.example:8443 --ca-file ca.pem --token $T "
      "-s 'system:frequency=5s'");

  return [a]() -> int {
    client::Options o;
    o.url = a->url;
    std::string url_error;
    auto url = client::parse_url(a->url, &url_error);
    if (!url) throw config::ConfigError("url: " + url_error);
    if (url->scheme != "ws" && url->scheme != "wss")
      throw config::ConfigError("url: expected ws:// or wss://, got " + url->scheme + "://");
    if (url->target == "/") o.url = url->scheme + "://" + url->host_header() + "/ws";

    if (!a->token_file.empty()) {
      read_token_file(a->token_file);  // fail now (exit 2) rather than at the first auth
      o.token_provider = [path = a->token_file] { return read_token_file(path); };
    } else {
      if (a->token.empty())
        if (const char* env = std::getenv("VALTRONICS_TOKEN")) a->token = env;
      if (a->token.empty())
        throw config::ConfigError("--token: required (or --token-file, or env VALTRONICS_TOKEN)");
      o.token = a->token;
    }

    std::vector<client::SubscribeSpec> specs;
    for (const auto& s : a->subscribe) {
      auto r = client::parse_subscribe_spec(s);
      if (!r) throw config::ConfigError("--subscribe '" + s + "': " + r.error);
      specs.push_back(std::move(r.spec));
    }
    bool channel_endpoint = url->target.rfind("/ws/", 0) == 0;
    if (specs.empty() && !channel_endpoint)
      throw config::ConfigError("--subscribe: give at least one, or connect to /ws/<channel>");

    o.backoff.base = duration_flag("--backoff-base", a->backoff_base);
    o.backoff.cap = duration_flag("--backoff-cap", a->backoff_cap);
    if (o.backoff.cap < o.backoff.base)
      throw config::ConfigError("--backoff-cap: must not be below --backoff-base");
    o.backoff.max_attempts = a->max_attempts;
    o.ping_interval = duration_flag("--ping-interval", a->ping_interval, true);
    o.compression = !a->no_compression;
    o.coalesce = !a->no_coalesce;
    o.msgpack = a->msgpack;
    o.tls.ca_file = a->ca_file;
    o.tls.verify_peer = !a->insecure;

    install_stop_signals();
    client::Client c(o);
    const bool json = a->json, quiet = a->quiet;
    c.on_message([json](const client::Message& m) {
      print_line(json ? m.text
                      : client::format_line(m.body,
                                            client::clock_time(std::chrono::system_clock::now())));
    });
    // State callbacks run on the client's thread, one at a time: a plain flag is enough.
    c.on_state([quiet, connected_once = false](const client::StateChange& s) mutable {
      if (s.state == client::State::connected) {
        connected_once = true;
        note(quiet, s.detail);
      } else if (s.state == client::State::reconnecting) {
        const char* what = !connected_once      ? "cannot connect"
                           : s.attempt == 1     ? "connection lost"
                                                : "reconnect failed";
        note(quiet, std::string(what) + " (" + s.detail + "); reconnecting in " +
                        seconds_text(s.delay) + " (attempt " + std::to_string(s.attempt) + ")");
      }
    });

    // A subscription the server no longer grants (a token refresh, or a restore after a
    // reconnect naming devices the token no longer covers: the others stay subscribed).
    c.on_subscription_removed([quiet](const client::SubscriptionRemoved& r) {
      note(quiet, "subscription removed: " + r.channel +
                      (r.device_id ? " device " + std::to_string(*r.device_id) : "") + " (" +
                      r.reason + ": " + r.error + (r.message.empty() ? "" : ", " + r.message) +
                      ")");
    });

    // The first subscribes are the command line's: a refusal is the user's to fix (exit 4).
    auto refused = std::make_shared<std::atomic<bool>>(false);
    auto refusal = std::make_shared<std::string>();
    auto refusal_mu = std::make_shared<std::mutex>();
    auto finished = c.finished();
    c.connect();
    for (std::size_t i = 0; i < specs.size(); ++i) {
      std::string spec = a->subscribe[i];
      c.subscribe(specs[i].channel, specs[i].filters,
                  [refused, refusal, refusal_mu, spec](const client::Reply& r) {
                    if (r.ok() || r.error == "closed") return;
                    std::lock_guard lock(*refusal_mu);
                    *refusal = "subscription '" + spec + "' refused: " + r.error +
                               (r.error_message.empty() ? "" : " (" + r.error_message + ")");
                    refused->store(true);
                  });
    }

    using namespace std::chrono_literals;
    for (;;) {
      if (stop_requested()) {
        c.close();
        return 0;
      }
      if (refused->load()) {
        std::lock_guard lock(*refusal_mu);
        std::fprintf(stderr, "listen: %s\n", refusal->c_str());
        c.close();
        return kExitRefused;
      }
      if (finished.wait_for(100ms) != std::future_status::ready) continue;
      try {
        finished.get();
        return 0;
      } catch (const client::Error& e) {
        std::fprintf(stderr, "listen: %s\n", e.what());
        if (e.code() == "auth_failed" || e.code() == "token_provider") return kExitAuth;
        if (e.code() == "tls") return 2;
        return kExitGaveUp;
      }
    }
  };
}

}  // namespace valtronics::cli
