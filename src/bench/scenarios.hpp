// `valtronics bench`: load generators that measure a server from the outside, against our server
// or its peers (Node `ws` speaking our protocol, Mosquitto over WebSocket, nats-server over
// WebSocket). Scenarios:
//   fanout   S subscribers over D devices; P readings/s published on an open-loop schedule;
//            deliveries, loss and end-to-end latency. With --slow-fraction F, ceil(F*S) of the
//            subscribers (spread evenly over the devices) stop reading once subscribed (small
//            receive buffer, never read again); the figures cover the others.
//   idle     N connections authenticated and subscribed, held; server memory per connection and
//            idle CPU.
//   connect  connection set-up rate: handshake + auth + subscribe acknowledged, then close.
//   ingest   closed-loop batched HTTP ingest over K connections (our protocol only), optionally
//            checked by subscribers.
//   floor    no server: the kernel's cost of writing one frame to each of N loopback sockets
//            (sendmsg or io_uring), the floor fan-out figures are compared with (floor.hpp).
// Every reading carries its scheduled send time (µs since the epoch) as the value of metric
// `bench_seq`, so subscribers measure end-to-end latency on receipt.
//
// One event-driven thread per --client-threads for the subscribers (raw asio, a frame reader of
// our own parsing in place), one for the publisher; the calling thread orchestrates. No Beast.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "bench/protocols.hpp"

namespace valtronics::bench {

struct Address {
  std::string host = "127.0.0.1";
  std::string port = "8000";
  std::string path = "/";
  bool tls = false;  // wss:// (the WebSocket endpoint only)
};

struct Options {
  std::string scenario = "fanout";       // fanout | idle | connect | ingest | floor
  Target target = Target::valtronics;
  Address http;                          // our protocol: HTTP ingest (POST /api/v1/telemetry/batch)
  Address ws;                            // WebSocket endpoint of the subscribers
  Address publish;                       // mqtt/nats: the broker's plain TCP port for publishing
  // fanout, our protocol: publish each reading as one MQTT message to the broker at `publish`
  // (topic valtronics/devices/{id}/telemetry) for a server ingesting it with --mqtt-url, instead
  // of POSTing it (issue 12, docs/mqtt.md).
  bool ingest_mqtt = false;
  std::string token;                     // our protocol: admin token (subscribe and ingest)
  int subscribers = 100;                 // fanout/ingest subscribers; idle: connections held
  int devices = 10;                      // devices 1..D, subscribers assigned round-robin
  double rate = 1000;                    // fanout: readings per second offered
  double slow_fraction = 0;              // fanout: share of subscribers that never read (0..0.5)
  int batch = 10;                        // readings per HTTP request / per publish tick
  int http_connections = 4;              // publisher connections (HTTP keep-alive or broker TCP)
  int concurrency = 64;                  // connect: connections in flight
  // Set-up requests sent back to back without waiting for each reply (our auth + subscribe,
  // MQTT CONNECT + SUBSCRIBE), as clients with a send queue do; NATS clients always do.
  bool pipeline = false;
  // fanout/ingest, our protocol: HTTP requests a publisher connection may have outstanding
  // (sent back to back, replies matched in order); 1 waits for each reply.
  int publish_pipeline = 1;
  int connect_concurrency = 256;         // held connections being set up at once
  int payload_bytes = 300;               // approximate size of each delivered update
  int client_threads = 1;                // subscriber event-loop threads
  std::chrono::milliseconds duration{10'000};
  std::chrono::milliseconds warmup{1'000};
  std::chrono::milliseconds drain{2'000};
  std::optional<int> server_pid;         // sample /proc/PID: CPU and RSS
  bool progress = false;                 // live line on stderr
  // floor (no server): N = subscribers sockets, B = payload_bytes.
  int rounds = 200;                      // measured rounds of N writes
  int frames_per_write = 1;              // K frames gathered in one sendmsg
  bool io_uring = false;                 // a round's N sends as one batch of io_uring SQEs
  int reader_cpu = -1;                   // pin the reader process to this CPU (-1: inherit)
};

// One run: what was asked and what came out. `table` is the human rendering.
struct Report {
  std::string scenario;
  Target target = Target::valtronics;
  boost::json::object parameters, results;
  std::string table;
};

// Runs options.scenario; throws std::invalid_argument for bad options and std::runtime_error
// when the run cannot be carried out (connections cannot be set up, ...).
Report run(const Options& options);

// {"scenario":..., "target":..., "parameters":{...}, "results":{...}}
std::string to_json(const Report& r);

// Raises the soft open-files limit to the hard one; returns the resulting soft limit.
std::uint64_t raise_fd_limit();

}  // namespace valtronics::bench
