// `valtronics bench <scenario>`: load generators that measure the server from the outside.
// Scenarios so far: fanout. Beast stays in src/bench/fanout.cpp; this file only parses flags.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "bench/fanout.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "util/time.hpp"

namespace valtronics::cli {

namespace {
struct FanoutArgs {
  std::string url = "http://127.0.0.1:8000", token, duration = "10s", warmup = "1s", drain = "2s";
  int subscribers = 100, devices = 10, batch = 10, connections = 4;
  double rate = 1000;
  int server_pid = 0;
  bool json = false;
};

// "0", "0s", "0ms" or a positive duration such as "500ms", "10s".
std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text,
                                        bool zero_ok) {
  if (zero_ok && (text == "0" || text == "0s" || text == "0ms")) return {};
  auto d = util::parse_duration(text);
  if (!d) throw config::ConfigError(flag + ": '" + text + "' is not a duration like 10s or 500ms");
  return *d;
}

// http://host:port[/...] (ws:// accepted too) -> host, port.
void parse_url(const std::string& url, bench::FanoutOptions& o) {
  std::string rest = url;
  for (std::string scheme : {"http://", "ws://"})
    if (rest.starts_with(scheme)) rest = rest.substr(scheme.size());
  if (rest.starts_with("https://") || rest.starts_with("wss://") || rest.find("://") != rest.npos)
    throw config::ConfigError("--url: '" + url + "' must be http://HOST:PORT (no TLS)");
  rest = rest.substr(0, rest.find('/'));
  auto colon = rest.rfind(':');
  if (rest.empty() || colon == 0)
    throw config::ConfigError("--url: '" + url + "' has no host");
  if (colon == std::string::npos) {
    o.host = rest;
    o.port = "80";
  } else {
    o.host = rest.substr(0, colon);
    o.port = rest.substr(colon + 1);
  }
  if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']')
    o.host = o.host.substr(1, o.host.size() - 2);
}
}  // namespace

Runner add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Load generators: measure a running server");
  cmd->require_subcommand(1);

  auto args = std::make_shared<FanoutArgs>();
  auto* fan = cmd->add_subcommand(
      "fanout",
      "S WebSocket subscribers over D devices; P readings/s ingested over HTTP on an open-loop "
      "schedule; reports deliveries, loss and end-to-end latency");
  fan->add_option("--url", args->url, "Server base URL; WebSocket at ws://HOST:PORT/ws")
      ->capture_default_str();
  fan->add_option("--token", args->token, "Admin token, used to subscribe and to ingest")
      ->required();
  fan->add_option("--subscribers", args->subscribers, "WebSocket subscribers (S)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  fan->add_option("--devices", args->devices, "Devices 1..D; subscribers assigned round-robin")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  fan->add_option("--rate", args->rate, "Readings per second offered (P)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  fan->add_option("--duration", args->duration, "Measured time, e.g. 10s")->capture_default_str();
  fan->add_option("--warmup", args->warmup, "Load before measuring (not in latency/rates)")
      ->capture_default_str();
  fan->add_option("--drain", args->drain, "Wait after the last request before counting loss")
      ->capture_default_str();
  fan->add_option("--batch", args->batch, "Readings per HTTP ingest request (1..1000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  fan->add_option("--connections", args->connections, "Keep-alive HTTP connections of the publisher")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  fan->add_option("--server-pid", args->server_pid,
                  "Server process: report its CPU per delivered message and RSS from /proc");
  fan->add_flag("--json", args->json, "Print one JSON object instead of a table");

  return [args, fan] {
    if (!fan->parsed()) return 2;
    bench::FanoutOptions o;
    parse_url(args->url, o);
    o.token = args->token;
    o.subscribers = args->subscribers;
    o.devices = args->devices;
    o.rate = args->rate;
    o.batch = args->batch;
    o.http_connections = args->connections;
    o.duration = duration_flag("--duration", args->duration, false);
    o.warmup = duration_flag("--warmup", args->warmup, true);
    o.drain = duration_flag("--drain", args->drain, true);
    if (args->server_pid > 0) o.server_pid = args->server_pid;
    o.progress = !args->json && ::isatty(STDERR_FILENO);
    auto result = bench::run_fanout(o);
    std::string out = args->json ? bench::to_json(result) : bench::to_table(result);
    std::fputs(out.c_str(), stdout);
    if (args->json) std::fputc('\n', stdout);
    return 0;
  };
}

}  // namespace valtronics::cli
