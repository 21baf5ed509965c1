// `valtronics bench <scenario>`: load generators that measure a server from the outside, ours or
// a peer (see src/bench/scenarios.hpp). This file only parses flags.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "bench/scenarios.hpp"
#include "cli/commands.hpp"
#include "config/config.hpp"
#include "util/time.hpp"

namespace valtronics::cli {

namespace {
struct BenchArgs {
  std::string scenario;
  std::string target = "valtronics";
  std::string url = "http://127.0.0.1:8000", ws_url, publish_url, token;
  std::string ingest = "http";  // fanout, our protocol: http or mqtt
  std::string duration = "10s", warmup = "1s", drain = "2s";
  int subscribers = 100, devices = 10, batch = 10, connections = 4, concurrency = 64;
  int payload_bytes = 300, client_threads = 1, connect_concurrency = 256;
  double rate = 1000, slow_fraction = 0;
  int server_pid = 0;
  bool json = false;
  bool pipeline = false;   // connect: set-up requests back to back
  int publish_pipeline = 1;  // fanout: HTTP requests outstanding per publisher connection
  int rounds = 200, frames_per_write = 1, reader_cpu = -1;  // floor
  bool io_uring = false;                                     // floor
};

// "0", "0s", "0ms" or a positive duration such as "500ms", "10s".
std::chrono::milliseconds duration_flag(const std::string& flag, const std::string& text,
                                        bool zero_ok) {
  if (zero_ok && (text == "0" || text == "0s" || text == "0ms")) return {};
  auto d = util::parse_duration(text);
  if (!d) throw config::ConfigError(flag + ": '" + text + "' is not a duration like 10s or 500ms");
  return *d;
}

// SCHEME://host[:port][/path] with one of `schemes` (the first is the default port's).
bench::Address parse_url(const std::string& flag, const std::string& url,
                         std::vector<std::pair<std::string, std::string>> schemes) {
  std::string rest;
  std::string port;
  for (const auto& [scheme, default_port] : schemes)
    if (url.starts_with(scheme + "://")) {
      rest = url.substr(scheme.size() + 3);
      port = default_port;
    }
  if (port.empty()) {
    std::string names;
    for (const auto& s : schemes) names += (names.empty() ? "" : ", ") + s.first + "://";
    throw config::ConfigError(flag + ": '" + url + "' must start with " + names);
  }
  bench::Address a;
  a.tls = url.starts_with("wss://");
  auto slash = rest.find('/');
  a.path = slash == std::string::npos ? "/" : rest.substr(slash);
  rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  if (rest.empty() || colon == 0) throw config::ConfigError(flag + ": '" + url + "' has no host");
  if (colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
    a.host = rest.substr(0, colon);
    a.port = rest.substr(colon + 1);
  } else {
    a.host = rest;
    a.port = port;
  }
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  return a;
}

bench::Options to_options(const BenchArgs& a) {
  bench::Options o;
  o.scenario = a.scenario;
  auto target = bench::parse_target(a.target);
  if (!target)
    throw config::ConfigError("--target: '" + a.target + "' is not valtronics, node, mqtt or nats");
  o.target = *target;
  o.http = parse_url("--url", a.url, {{"http", "80"}, {"ws", "80"}});
  o.http.path = "/";
  if (!a.ws_url.empty()) {
    o.ws = parse_url("--ws-url", a.ws_url, {{"ws", "80"}, {"wss", "443"}});
  } else if (bench::speaks_ours(o.target)) {
    o.ws = o.http;
    o.ws.path = "/ws";
  } else {
    o.ws = parse_url("--ws-url", o.target == bench::Target::mqtt ? "ws://127.0.0.1:9001/"
                                                                  : "ws://127.0.0.1:8080/",
                     {{"ws", "80"}});
  }
  if (a.ingest != "http" && a.ingest != "mqtt")
    throw config::ConfigError("--ingest: '" + a.ingest + "' is not http or mqtt");
  o.ingest_mqtt = a.ingest == "mqtt";
  if (o.ingest_mqtt && o.target != bench::Target::valtronics)
    throw config::ConfigError("--ingest mqtt: only with --target valtronics (a server started "
                              "with --mqtt-url)");
  if (o.target == bench::Target::mqtt || o.ingest_mqtt)
    o.publish = parse_url("--publish-url",
                          a.publish_url.empty() ? "mqtt://127.0.0.1:1883" : a.publish_url,
                          {{"mqtt", "1883"}, {"tcp", "1883"}});
  else if (o.target == bench::Target::nats)
    o.publish = parse_url("--publish-url",
                          a.publish_url.empty() ? "nats://127.0.0.1:4222" : a.publish_url,
                          {{"nats", "4222"}, {"tcp", "4222"}});
  o.token = a.token;
  o.subscribers = a.subscribers;
  o.devices = a.devices;
  o.rate = a.rate;
  o.slow_fraction = a.slow_fraction;
  o.batch = a.batch;
  o.http_connections = a.connections;
  o.concurrency = a.concurrency;
  o.pipeline = a.pipeline;
  o.publish_pipeline = a.publish_pipeline;
  o.rounds = a.rounds;
  o.frames_per_write = a.frames_per_write;
  o.io_uring = a.io_uring;
  o.reader_cpu = a.reader_cpu;
  o.connect_concurrency = a.connect_concurrency;
  o.payload_bytes = a.payload_bytes;
  o.client_threads = a.client_threads;
  o.duration = duration_flag("--duration", a.duration, false);
  o.warmup = duration_flag("--warmup", a.warmup, true);
  o.drain = duration_flag("--drain", a.drain, true);
  if (a.server_pid > 0) o.server_pid = a.server_pid;
  o.progress = !a.json && ::isatty(STDERR_FILENO);
  return o;
}

// Flags every scenario has.
void add_common(CLI::App* s, BenchArgs& a, bool payload) {
  s->add_option("--target", a.target,
                "Server under test: valtronics or node (our protocol), mqtt (MQTT over "
                "WebSocket), nats (NATS over WebSocket)")
      ->capture_default_str()
      ->check(CLI::IsMember({"valtronics", "node", "mqtt", "nats"}));
  s->add_option("--url", a.url, "Our protocol: server base URL (HTTP ingest; WebSocket at /ws)")
      ->capture_default_str();
  s->add_option("--ws-url", a.ws_url,
                "WebSocket endpoint of the subscribers, ws:// or wss:// (certificate not "
                "verified; default: ws://HOST:PORT/ws of --url; mqtt ws://127.0.0.1:9001/; nats "
                "ws://127.0.0.1:8080/)");
  s->add_option("--publish-url", a.publish_url,
                "mqtt/nats: broker TCP port to publish on (default mqtt://127.0.0.1:1883, "
                "nats://127.0.0.1:4222)");
  s->add_option("--token", a.token, "Our protocol: admin token, used to subscribe and to ingest");
  s->add_option("--devices", a.devices, "Devices 1..D; connections assigned round-robin")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  s->add_option("--duration", a.duration, "Measured time, e.g. 10s")->capture_default_str();
  if (payload)
    s->add_option("--payload-bytes", a.payload_bytes,
                  "Approximate size of each delivered update (padded with extra metrics)")
        ->capture_default_str()
        ->check(CLI::Range(0, 60'000));
  s->add_option("--client-threads", a.client_threads, "Event-loop threads of the subscribers")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  s->add_option("--server-pid", a.server_pid,
                "Server process: report its CPU and memory from /proc");
  s->add_flag("--json", a.json, "Print one JSON object instead of a table");
}
}  // namespace

Runner add_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Load generators: measure a running server or a peer");
  cmd->require_subcommand(1);
  cmd->footer(
      "Examples:\n"
      "  valtronics bench fanout --url http://127.0.0.1:8000 --token $T --subscribers 1000 "
      "--rate 100\n"
      "  valtronics bench idle --url http://127.0.0.1:8000 --token $T --connections 10000 "
      "--server-pid $PID\n"
      "  valtronics bench floor --subscribers 1000 --io-uring\n"
      "(valtronics bench SCENARIO --help for each scenario's flags; docs/benchmarks.md)");

  struct Sub {
    CLI::App* app;
    std::shared_ptr<BenchArgs> args;
  };
  auto subs = std::make_shared<std::vector<Sub>>();
  auto make = [&](const char* name, const char* help) {
    auto args = std::make_shared<BenchArgs>();
    args->scenario = name;
    auto* s = cmd->add_subcommand(name, help);
    subs->push_back({s, args});
    return std::pair{s, args.get()};
  };

  {
    auto [s, a] = make("fanout",
                       "S subscribers over D devices; P readings/s published on an open-loop "
                       "schedule; reports deliveries, loss and end-to-end latency");
    add_common(s, *a, true);
    s->add_option("--subscribers", a->subscribers, "Subscribers (S)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1'000'000));
    s->add_option("--rate", a->rate, "Readings per second offered (P)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    s->add_option("--slow-fraction", a->slow_fraction,
                  "Share of subscribers that stop reading once subscribed (0..0.5): ceil(F*S), "
                  "spread over the devices, with a 4 KiB receive buffer; loss, rates and latency "
                  "cover the others; reports how many the server disconnected")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.5));
    s->add_option("--warmup", a->warmup, "Load before measuring (not in latency/rates)")
        ->capture_default_str();
    s->add_option("--drain", a->drain, "Wait after the last reading before counting loss")
        ->capture_default_str();
    s->add_option("--ingest", a->ingest,
                  "Our protocol: how readings reach the server: http (POST) or mqtt (one "
                  "reading per PUBLISH to --publish-url, for a server run with --mqtt-url)")
        ->capture_default_str();
    s->add_option("--batch", a->batch,
                  "Readings per HTTP ingest request, or per publish tick for mqtt/nats (1..1000)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    s->add_option("--connections", a->connections,
                  "Publisher connections (HTTP keep-alive, or broker TCP for mqtt/nats)")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    // An integer here; connect's --pipeline is a flag (each subcommand has its own options).
    s->add_option("--pipeline", a->publish_pipeline,
                  "Our protocol: HTTP requests each publisher connection may have outstanding "
                  "(sent back to back, replies matched in order; 1 waits for each reply)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    s->footer(
        "Examples:\n"
        "  valtronics bench fanout --url http://127.0.0.1:8000 --token $T --subscribers 1000 "
        "--devices 1 --payload-bytes 300 --rate 1000 --batch 10 --duration 10s\n"
        "  valtronics bench fanout --url http://127.0.0.1:8000 --token $T --subscribers 1000 "
        "--rate 100 --slow-fraction 0.01 --server-pid $PID --json\n"
        "  valtronics bench fanout --target mqtt --subscribers 1000 --rate 100 --duration 10s");
  }
  {
    auto [s, a] = make("idle",
                       "N connections authenticated and subscribed, held; server memory per "
                       "connection and idle CPU (with --server-pid)");
    add_common(s, *a, false);
    a->subscribers = 1000;
    s->add_option("--connections", a->subscribers, "Connections held (N)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1'000'000));
    // Set-up concurrency shapes the server's heap (transient handshake memory of the
    // connections in flight), which matters for the per-connection figure under TLS.
    s->add_option("--connect-concurrency", a->connect_concurrency,
                  "Connections being set up at once")
        ->capture_default_str()
        ->check(CLI::Range(1, 100'000));
    s->footer(
        "Examples:\n"
        "  valtronics bench idle --url http://127.0.0.1:8000 --token $T --connections 15000 "
        "--devices 100 --server-pid $PID\n"
        "  valtronics bench idle --target nats --connections 1000 --duration 10s --json");
  }
  {
    auto [s, a] = make("connect",
                       "Connection set-up rate: WebSocket handshake, auth and subscribe "
                       "acknowledged, then close; C in flight");
    add_common(s, *a, false);
    s->add_flag("--pipeline", a->pipeline,
                "Send the set-up requests back to back (auth + subscribe; MQTT CONNECT + "
                "SUBSCRIBE) instead of waiting for each reply; NATS always pipelines");
    s->add_option("--concurrency", a->concurrency, "Connections in flight (C)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100'000));
    s->footer(
        "Examples:\n"
        "  valtronics bench connect --url http://127.0.0.1:8000 --token $T --concurrency 64 "
        "--devices 10 --duration 10s\n"
        "  valtronics bench connect --url http://127.0.0.1:8000 --token $T --concurrency 64 "
        "--pipeline --server-pid $PID --json");
  }
  {
    auto [s, a] = make("ingest",
                       "Closed-loop HTTP ingest: batches of B readings over K keep-alive "
                       "connections; optional subscribers check every reading is delivered");
    add_common(s, *a, true);
    a->batch = 100;
    a->subscribers = 0;
    s->add_option("--batch", a->batch, "Readings per request (1..1000)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    s->add_option("--connections", a->connections, "Keep-alive HTTP connections (K)")
        ->capture_default_str()
        ->check(CLI::Range(1, 64));
    s->add_option("--subscribers", a->subscribers, "Subscribers checking delivery (S, 0 = none)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1'000'000));
    s->add_option("--warmup", a->warmup, "Load before measuring")->capture_default_str();
    s->add_option("--drain", a->drain, "With subscribers: wait before counting loss")
        ->capture_default_str();
    s->footer(
        "Examples:\n"
        "  valtronics bench ingest --url http://127.0.0.1:8000 --token $T --batch 100 "
        "--connections 4 --duration 10s\n"
        "  valtronics bench ingest --url http://127.0.0.1:8000 --token $T --batch 100 "
        "--subscribers 10 --devices 10 --server-pid $PID --json");
  }

  {
    auto [s, a] = make("floor",
                       "No server: the kernel's cost of writing one WebSocket frame to each of N "
                       "loopback sockets per round (sendmsg, or io_uring with --io-uring), the "
                       "floor of every fan-out figure");
    a->subscribers = 1000;
    s->add_option("--subscribers", a->subscribers,
                  "Loopback connections written to (N); the readers live in a child process, "
                  "so each process holds N sockets")
        ->capture_default_str()
        ->check(CLI::Range(1, 100'000));
    s->add_option("--payload-bytes", a->payload_bytes, "Payload of each frame (B)")
        ->capture_default_str()
        ->check(CLI::Range(0, 60'000));
    s->add_option("--rounds", a->rounds, "Measured rounds of N writes (after 3 warm-up rounds)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1'000'000));
    s->add_option("--frames-per-write", a->frames_per_write,
                  "Frames gathered in each write (K, 1..256)")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    s->add_flag("--io-uring", a->io_uring,
                "Submit a round's N sends as one batch of io_uring SENDMSG SQEs, then reap");
    s->add_option("--reader-cpu", a->reader_cpu,
                  "Pin the reader process to this CPU (default: the bench's own affinity)")
        ->check(CLI::Range(0, 1023));
    s->add_flag("--json", a->json, "Print one JSON object instead of a table");
    s->footer(
        "Examples:\n"
        "  valtronics bench floor --subscribers 1000 --payload-bytes 300\n"
        "  valtronics bench floor --subscribers 1000 --payload-bytes 300 --io-uring "
        "--reader-cpu 1 --json");
  }

  return [subs] {
    for (const auto& s : *subs) {
      if (!s.app->parsed()) continue;
      auto report = bench::run(to_options(*s.args));
      std::string out = s.args->json ? bench::to_json(report) + "\n" : report.table;
      std::fputs(out.c_str(), stdout);
      return 0;
    }
    return 2;
  };
}

}  // namespace valtronics::cli
