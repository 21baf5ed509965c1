// `valtronics bench fanout`: S WebSocket subscribers spread round-robin over devices 1..D, and a
// publisher ingesting P readings per second over keep-alive HTTP at a fixed open-loop schedule.
// Every reading carries its scheduled send time (µs since the epoch) as its value, so each
// subscriber measures end-to-end latency on receipt. Beast lives only in fanout.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "bench/histogram.hpp"

namespace valtronics::bench {

struct FanoutOptions {
  std::string host = "127.0.0.1";
  std::string port = "8000";
  std::string token;                       // admin token: subscribing and ingest
  int subscribers = 100;
  int devices = 10;
  double rate = 1000;                      // readings per second offered
  int batch = 10;                          // readings per HTTP request
  int http_connections = 4;                // keep-alive connections of the publisher
  std::chrono::milliseconds duration{10'000};
  std::chrono::milliseconds warmup{1'000};
  std::chrono::milliseconds drain{2'000};  // after the last request, before counting loss
  int connect_concurrency = 256;           // subscriber handshakes in flight at once
  std::optional<int> server_pid;           // sample /proc/PID for CPU and RSS
  bool progress = false;                   // live line on stderr, once a second
};

// Server resource use from /proc/PID, sampled at the start of the measured window and after the
// drain.
struct ServerUsage {
  int pid = 0;
  double cpu_seconds = 0;                  // utime + stime over the window
  double window_seconds = 0;
  std::uint64_t deliveries = 0;            // messages received by subscribers in the window
  std::uint64_t rss_before_kib = 0, rss_after_kib = 0;
  double cpu_us_per_delivery() const {
    return deliveries ? cpu_seconds * 1e6 / static_cast<double>(deliveries) : 0;
  }
  double cpu_percent() const { return window_seconds > 0 ? 100 * cpu_seconds / window_seconds : 0; }
};

struct FanoutResult {
  FanoutOptions options;
  // Subscribers
  int subscribers_ready = 0;
  double setup_seconds = 0;                // connect + auth + subscribed, all of them
  // Publisher
  std::uint64_t requests_sent = 0, requests_ok = 0;
  std::uint64_t readings_sent = 0, readings_accepted = 0;
  std::uint64_t http_errors = 0;           // non-202 replies
  std::uint64_t transport_errors = 0;      // connect/read/write failures (connection reopened)
  std::uint64_t late_sends = 0;            // requests sent more than 1 ms after their due time
  double max_send_lag_ms = 0;
  double publish_seconds = 0;              // warmup + duration as actually run
  // Deliveries (all readings, warmup included)
  std::uint64_t expected = 0, received = 0, loss = 0, excess = 0;
  std::uint64_t other_messages = 0;        // frames that were not telemetry_update of bench_seq
  std::uint64_t subscriber_errors = 0;     // connections that failed after subscribing
  // Measured window (readings sent after the warmup)
  std::uint64_t measured_deliveries = 0;   // deliveries of readings sent after the warmup
  double offered_per_s = 0;                // readings per second actually sent in the window
  double offered_deliveries_per_s = 0;     // the deliveries those readings call for, per second
  double delivered_per_s = 0;              // messages received per second during the window
  Histogram latency_us;
  std::optional<ServerUsage> server;
};

// Runs the scenario; throws std::runtime_error when the subscribers cannot be set up.
FanoutResult run_fanout(const FanoutOptions& options);

std::string to_json(const FanoutResult& r);
std::string to_table(const FanoutResult& r);

}  // namespace valtronics::bench
