// `valtronics simulate --url http://HOST:PORT --token T --devices N --interval 1s`: a fleet of
// simulated devices (cli/sim_fleet, the --demo models) posting their readings through the
// ingest API, one batch per interval over one kept-alive connection. With `--mqtt URL` they
// publish to an MQTT broker instead, one reading per PUBLISH (docs/mqtt.md), for a server
// started with --mqtt-url. A progress line on a terminal; a summary at the end. Exit codes
// (docs/cli.md): 0 done or stopped, 1 no batch was accepted or the server rejected a batch
// (4xx), or the broker could not be reached, 2 bad arguments, 3 the token was refused.
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <algorithm>
#include <cstdio>
#include <random>

#include "cli/commands.hpp"
#include "cli/mqtt_publisher.hpp"
#include "cli/sim_fleet.hpp"
#include "cli/stop_signal.hpp"
#include "client/http_client.hpp"
#include "mqtt/broker_url.hpp"
#include "config/config.hpp"

namespace valtronics::cli {

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr int kExitFailed = 1, kExitAuth = 3;
constexpr const char* kBatchPath = "/api/v1/telemetry/batch";
// A failed POST is retried this many times, 250 ms then 500 ms apart: a server restart or a
// dropped keep-alive is bridged within the tick; a longer outage costs that tick's batch.
constexpr int kRetries = 2;

struct SimulateArgs {
  std::string url, token, interval = "1s", duration, ca_file;
  std::string mqtt, mqtt_prefix = "valtronics";
  int qos = 1;
  int devices = 5;
  std::int64_t first_id = 1;
  std::uint64_t count = 0, seed = 0;
  std::size_t batch_size = 500;
  bool insecure = false, quiet = false;
};

struct Totals {
  std::uint64_t readings = 0, batches = 0, errors = 0, ticks = 0;
};

// "401 UNAUTHORIZED: invalid token" from the platform's error envelope (or the raw body).
std::string server_error(const client::HttpResponse& r) {
  std::string out = std::to_string(r.status);
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (!ec && v.is_object())
    if (auto* e = v.get_object().if_contains("error"); e && e->is_object()) {
      const auto& eo = e->get_object();
      if (auto* c = eo.if_contains("code"); c && c->is_string()) out += " " + std::string(c->get_string());
      if (auto* m = eo.if_contains("message"); m && m->is_string())
        out += ": " + std::string(m->get_string());
      return out;
    }
  return out + (r.body.empty() ? "" : ": " + r.body.substr(0, 200));
}

std::uint64_t accepted(const client::HttpResponse& r, std::uint64_t fallback) {
  boost::system::error_code ec;
  auto v = json::parse(r.body, ec);
  if (ec || !v.is_object()) return fallback;
  auto* d = v.get_object().if_contains("data");
  if (!d || !d->is_object()) return fallback;
  auto* n = d->get_object().if_contains("accepted");
  return n && n->is_int64() ? static_cast<std::uint64_t>(n->get_int64()) : fallback;
}

// The rate is over the time the batches stand for (at least one interval each), so the first
// line does not claim thousands per second for a batch sent a millisecond after starting.
void progress(const Totals& t, SteadyClock::time_point start, util::Millis interval,
              bool final_line) {
  double secs = std::max(std::chrono::duration<double>(SteadyClock::now() - start).count(),
                         std::chrono::duration<double>(interval).count() *
                             static_cast<double>(t.ticks));
  double rate = secs > 0 ? static_cast<double>(t.readings) / secs : 0.0;
  std::printf("\rsimulate: %llu readings sent in %llu batches, %.1f/s, %llu errors   %s",
              static_cast<unsigned long long>(t.readings),
              static_cast<unsigned long long>(t.batches), rate,
              static_cast<unsigned long long>(t.errors), final_line ? "\n" : "");
  std::fflush(stdout);
}

// The next tick of a fixed schedule (start + k * interval): a slow tick delays one batch, not
// every later one; when a whole interval was missed, it skips ahead instead of sending a burst.
SteadyClock::time_point next_due(SteadyClock::time_point due, util::Millis interval) {
  due += interval;
  const auto now = SteadyClock::now();
  while (due < now) due += interval;
  return due;
}

void summary(const Totals& t, SteadyClock::time_point start, const char* unit) {
  const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::printf("simulate: %llu readings sent in %llu %s over %.1fs, %llu errors\n",
              static_cast<unsigned long long>(t.readings),
              static_cast<unsigned long long>(t.batches), unit, secs,
              static_cast<unsigned long long>(t.errors));
}

// --mqtt: every reading of a tick is one PUBLISH on its device's metric topic. A reading is
// counted once the broker acknowledged it (QoS 1, 2) or it was sent (QoS 0); readings
// published while the connection is down are errors (the library reconnects by itself).
int simulate_mqtt(const SimulateArgs& a, util::Millis interval,
                  std::optional<util::Millis> duration) {
  std::string why;
  auto broker = mqtt::parse_broker_url(a.mqtt, why);
  if (!broker) throw config::ConfigError("--mqtt: '" + a.mqtt + "' " + why);
  if (a.qos < 0 || a.qos > 2) throw config::ConfigError("--qos: must be 0, 1 or 2");
  if (a.mqtt_prefix.empty() || a.mqtt_prefix.find_first_of("+#") != std::string::npos)
    throw config::ConfigError("--mqtt-prefix: '" + a.mqtt_prefix + "' must be a topic without "
                              "wildcards (+ #)");
  install_stop_signals();
  std::uint64_t seed = a.seed != 0 ? a.seed : std::random_device{}();
  SimFleet fleet(a.first_id, a.devices, seed);
  MqttPublisher publisher(*broker, a.ca_file, a.qos);
  try {
    publisher.connect(10s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "simulate: %s\n", e.what());
    return kExitFailed;
  }
  const bool tty = !a.quiet && isatty(STDOUT_FILENO) == 1;
  Totals t;
  bool failing = false;
  const auto start = SteadyClock::now();
  auto due = start;
  while (!stop_requested()) {
    if (a.count != 0 && t.ticks >= a.count) break;
    if (duration && SteadyClock::now() - start >= *duration) break;
    ++t.ticks;
    std::uint64_t lost = 0;
    for (const auto& m : fleet.messages(util::Clock::now(), a.mqtt_prefix))
      if (!publisher.publish(m.topic, m.payload)) ++lost;
    ++t.batches;
    t.errors += lost;
    if (lost && !failing)
      std::fprintf(stderr, "%ssimulate: the broker connection is down (reconnecting)\n",
                   tty ? "\n" : "");
    else if (!lost && failing)
      std::fprintf(stderr, "%ssimulate: publishing again\n", tty ? "\n" : "");
    failing = lost != 0;
    t.readings = publisher.acknowledged();
    if (tty) progress(t, start, interval, false);
    due = next_due(due, interval);
    if (a.count != 0 && t.ticks >= a.count) break;
    if (duration && due - start > *duration) break;
    sleep_or_stop(std::chrono::duration_cast<std::chrono::milliseconds>(due - SteadyClock::now()));
  }
  if (const auto left = publisher.wait_acknowledged(10s))
    std::fprintf(stderr, "%ssimulate: %llu message(s) not acknowledged by the broker\n",
                 tty ? "\n" : "", static_cast<unsigned long long>(left));
  t.readings = publisher.acknowledged();
  if (!a.quiet) {
    if (tty) progress(t, start, interval, true);
    else summary(t, start, "ticks");
  }
  return t.readings == 0 && t.errors > 0 ? kExitFailed : 0;
}

}  // namespace

Runner add_simulate(CLI::App& app) {
  auto a = std::make_shared<SimulateArgs>();
  auto* cmd = app.add_subcommand("simulate", "Simulated devices posting readings to the ingest API");
  cmd->add_option("--url", a->url, "http://HOST:PORT or https://... of the server");
  cmd->add_option("--mqtt", a->mqtt,
                  "Publish to this MQTT broker instead (mqtt://HOST:PORT, mqtts://...), one "
                  "reading per message");
  cmd->add_option("--mqtt-prefix", a->mqtt_prefix, "Topic prefix with --mqtt (default valtronics)");
  cmd->add_option("--qos", a->qos, "QoS of the messages with --mqtt: 0, 1 or 2 (default 1)");
  cmd->add_option("--token", a->token, "admin or operator JWT (or env VALTRONICS_TOKEN)");
  cmd->add_option("--devices", a->devices, "Number of devices (default 5)");
  cmd->add_option("--first-id", a->first_id, "Id of the first device (default 1)");
  cmd->add_option("--interval", a->interval, "Time between batches (default 1s)");
  cmd->add_option("--duration", a->duration, "Stop after this long (default: until Ctrl-C)");
  cmd->add_option("--count", a->count, "Stop after this many intervals (default: until Ctrl-C)");
  cmd->add_option("--seed", a->seed, "Random seed, for reproducible readings (default random)");
  cmd->add_option("--batch-size", a->batch_size, "Devices per POST at most (default 500)");
  cmd->add_option("--ca-file", a->ca_file, "PEM CA file for https:// (default: system CAs)");
  cmd->add_flag("--insecure", a->insecure, "https:// without certificate verification");
  cmd->add_flag("--quiet,-q", a->quiet, "No progress line and no summary");
  cmd->footer(
      "Examples:\n"
      "  valtronics simulate --url http://127.0.0.1:8000 --token $T --devices 10 --interval 1s\n"
      "  valtronics simulate --url http://127.0.0.1:8000 --token $T --devices 500 --count 60 "
      "--seed 1\n"
      "  valtronics simulate --mqtt mqtt://127.0.0.1:1883 --devices 20 --interval 500ms");

  return [a]() -> int {
    if (a->url.empty() == a->mqtt.empty())
      throw config::ConfigError("--url or --mqtt: give one (the server's HTTP URL, or a broker)");
    if (a->devices < 1 || a->devices > 1000000)
      throw config::ConfigError("--devices: must be between 1 and 1000000");
    if (a->first_id < 1) throw config::ConfigError("--first-id: must be a positive device id");
    auto interval = util::parse_duration(a->interval);
    if (!interval)
      throw config::ConfigError("--interval: '" + a->interval + "' is not a duration like 1s");
    std::optional<util::Millis> duration;
    if (!a->duration.empty()) {
      duration = util::parse_duration(a->duration);
      if (!duration)
        throw config::ConfigError("--duration: '" + a->duration + "' is not a duration like 30s");
    }
    if (!a->mqtt.empty()) return simulate_mqtt(*a, *interval, duration);
    std::string url_error;
    auto url = client::parse_url(a->url, &url_error);
    if (!url) throw config::ConfigError("--url: " + url_error);
    if (url->scheme != "http" && url->scheme != "https")
      throw config::ConfigError("--url: expected http:// or https://, got " + url->scheme + "://");
    if (a->token.empty())
      if (const char* env = std::getenv("VALTRONICS_TOKEN")) a->token = env;
    if (a->token.empty()) throw config::ConfigError("--token: required (or env VALTRONICS_TOKEN)");
    if (a->batch_size < 1 || a->batch_size > 1000)
      throw config::ConfigError("--batch-size: must be between 1 and 1000 (ingest.max_items)");
    client::TlsOptions tls;
    tls.ca_file = a->ca_file;
    tls.verify_peer = !a->insecure;

    install_stop_signals();
    std::uint64_t seed = a->seed != 0 ? a->seed : std::random_device{}();
    SimFleet fleet(a->first_id, a->devices, seed);
    client::HttpClient http(*url, tls, std::max<std::chrono::milliseconds>(*interval, 5s));
    const bool tty = !a->quiet && isatty(STDOUT_FILENO) == 1;
    Totals t;
    bool failing = false;
    const auto start = SteadyClock::now();
    auto due = start;

    auto finish = [&](int code) {
      if (!a->quiet) {
        if (tty) progress(t, start, *interval, true);
        else summary(t, start, "batches");
      }
      return code;
    };

    while (!stop_requested()) {
      if (a->count != 0 && t.ticks >= a->count) break;
      if (duration && SteadyClock::now() - start >= *duration) break;
      auto tick = fleet.tick(util::Clock::now(), a->batch_size);
      ++t.ticks;
      for (const auto& body : tick.bodies) {
        std::string last_error;
        for (int attempt = 0; attempt <= kRetries && !stop_requested(); ++attempt) {
          if (attempt > 0 && sleep_or_stop(std::chrono::milliseconds(250 << (attempt - 1)))) break;
          try {
            auto r = http.post(kBatchPath, body, a->token);
            if (r.status == 401 || r.status == 403) {
              std::fprintf(stderr, "%ssimulate: the server refused the token: %s\n",
                           tty ? "\n" : "", server_error(r).c_str());
              return finish(kExitAuth);
            }
            if (r.status >= 400 && r.status < 500) {
              std::fprintf(stderr, "%ssimulate: the server rejected a batch: %s\n",
                           tty ? "\n" : "", server_error(r).c_str());
              return finish(kExitFailed);
            }
            if (r.status >= 500) {
              last_error = "server error " + server_error(r);
              continue;
            }
            ++t.batches;
            t.readings += accepted(r, 0);
            last_error.clear();
            break;
          } catch (const client::HttpTransportError& e) {
            last_error = e.what();
          }
        }
        if (!last_error.empty()) {
          ++t.errors;
          if (!failing)
            std::fprintf(stderr, "%ssimulate: %s (retrying every interval)\n", tty ? "\n" : "",
                         last_error.c_str());
          failing = true;
        } else if (failing) {
          std::fprintf(stderr, "%ssimulate: sending again\n", tty ? "\n" : "");
          failing = false;
        }
      }
      if (tty) progress(t, start, *interval, false);
      due = next_due(due, *interval);
      if (a->count != 0 && t.ticks >= a->count) break;
      if (duration && due - start > *duration) break;
      sleep_or_stop(std::chrono::duration_cast<std::chrono::milliseconds>(due - SteadyClock::now()));
    }
    return finish(t.batches == 0 && t.errors > 0 ? kExitFailed : 0);
  };
}

}  // namespace valtronics::cli
