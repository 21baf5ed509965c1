// The server's Prometheus counters and histograms (docs/operations.md, "Metrics"), kept per
// thread: each thread adds to a block of its own (a relaxed load and store, no lock, no shared
// cache line), and a scrape sums the blocks. Labels come from the small fixed sets below, never
// from a device id or a user, so every family has a bounded number of series.
//
// This folder knows nothing of the domain: callers map their enums to these.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace valtronics::metrics {

// ---- label sets (the names are in catalogue.cpp, in the same order) ----
enum class Endpoint : std::uint8_t { websocket, http };
inline constexpr std::size_t kEndpoints = 2;

// Why a token was refused (WebSocket auth, handshake bearer, REST bearer) or never came.
enum class AuthFailure : std::uint8_t {
  missing_token, invalid_token, token_expired, token_not_yet_valid, timeout
};
inline constexpr std::size_t kAuthFailures = 5;

// Client messages by type; subscribe and unsubscribe also by channel (4 each, in the order
// of model::Channel: telemetry, alerts, devices, system).
enum class InType : std::uint8_t {
  auth, ping, batch, invalid, binary, ack, hello, subscribe, unsubscribe
};
inline constexpr std::size_t kInPlain = 7;  // auth .. hello: no channel
inline constexpr std::size_t kChannels = 4;
inline constexpr std::size_t kInSlots = kInPlain + 2 * kChannels;
constexpr std::size_t in_index(InType t, std::size_t channel = 0) {
  const auto i = static_cast<std::size_t>(t);
  return i < kInPlain ? i : kInPlain + (i - kInPlain) * kChannels + channel;
}

// Server messages by type. The four updates are the channels' (telemetry_update: telemetry,
// alert: alerts, device_status_update: devices, system_status_update: system); the others
// are replies, on no channel.
enum class OutType : std::uint8_t {
  telemetry_update, alert, device_status_update, system_status_update,
  auth_response, subscription, pong, error, token_expiring, batch_response, snapshot, other
};
inline constexpr std::size_t kOutTypes = 12;

enum class SlowConsumer : std::uint8_t { write_timeout, queue_full };
inline constexpr std::size_t kSlowConsumerReasons = 2;

// Rate limits that refused something: messages_per_second, control_frames_per_second (per
// connection) and connections_per_minute (per address, at the handshake).
enum class RateLimit : std::uint8_t { messages, control_frames, connections };
inline constexpr std::size_t kRateLimits = 3;

// HTTP status of a refused WebSocket handshake.
enum class Refusal : std::uint8_t { s400, s403, s404, s429, s503 };
inline constexpr std::size_t kRefusals = 5;

// Where readings come from: POST /api/v1/telemetry[/batch], and MQTT messages (the protocol has
// no WebSocket ingest message).
enum class Source : std::uint8_t { http, mqtt };
inline constexpr std::size_t kSources = 2;

inline constexpr std::size_t kSeverities = 3;  // model::Severity
inline constexpr std::size_t kAlertTypes = 5;  // model::AlertType

// ---- histograms: latencies in seconds, fixed buckets (upper bounds) ----
inline constexpr std::array<double, 16> kLatencyBuckets{
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};
enum class Histogram : std::uint8_t { ingest_to_enqueue, enqueue_to_write, store_commit };
inline constexpr std::size_t kHistograms = 3;
// Per histogram: one slot per bucket, one for +Inf, one for the sum in nanoseconds.
inline constexpr std::size_t kHistogramSlots = kLatencyBuckets.size() + 2;

// ---- the slot layout: every counter of every label value, then the histograms ----
namespace slot {
inline constexpr std::size_t connections_total = 0;                           // + Endpoint
inline constexpr std::size_t auth_successes = connections_total + kEndpoints;
inline constexpr std::size_t auth_failures = auth_successes + 1;              // + AuthFailure
inline constexpr std::size_t messages_in = auth_failures + kAuthFailures;     // + in_index()
inline constexpr std::size_t messages_out = messages_in + kInSlots;           // + OutType
inline constexpr std::size_t bytes_in = messages_out + kOutTypes;
inline constexpr std::size_t bytes_out = bytes_in + 1;
// (Fan-out deliveries are the messages out of the four update types: summed at scrape, so a
// delivery costs one count.)
inline constexpr std::size_t queue_conflated = bytes_out + 1;  // per-connection merges
inline constexpr std::size_t slow_consumer = queue_conflated + 1;      // + SlowConsumer
inline constexpr std::size_t rate_limit_hits = slow_consumer + kSlowConsumerReasons;  // + RateLimit
inline constexpr std::size_t refusals = rate_limit_hits + kRateLimits;  // + Refusal
inline constexpr std::size_t readings_accepted = refusals + kRefusals;  // + Source
inline constexpr std::size_t readings_rejected = readings_accepted + kSources;  // + Source
inline constexpr std::size_t alerts = readings_rejected + kSources;  // + severity*kAlertTypes+type
inline constexpr std::size_t http_requests = alerts + kSeverities * kAlertTypes;
// Requests dispatched while an earlier one of their connection was still unanswered (pipelining).
inline constexpr std::size_t http_requests_pipelined = http_requests + 1;
inline constexpr std::size_t histograms = http_requests_pipelined + 1;  // + h*kHistogramSlots + bucket
inline constexpr std::size_t count = histograms + kHistograms * kHistogramSlots;
}  // namespace slot

// One thread's counters. Only its thread writes them (relaxed load + store: no locked
// instruction); a scrape reads them with relaxed loads from any thread.
struct alignas(64) Block {
  std::array<std::atomic<std::uint64_t>, slot::count> v{};
};

// The calling thread's block, taken on its first count (the only time a lock is taken) and
// handed to a later thread when this one ends: counts never go back.
Block& acquire_block();
inline thread_local Block* tl_block = nullptr;

inline void add(std::size_t s, std::uint64_t n = 1) {
  Block* b = tl_block ? tl_block : &acquire_block();
  auto& a = b->v[s];
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

template <class E>
constexpr std::size_t at(std::size_t base, E e) {
  return base + static_cast<std::size_t>(e);
}

void observe(Histogram h, std::chrono::nanoseconds d);

// Every slot summed over every thread's block, in one pass (a scrape).
std::array<std::uint64_t, slot::count> read_all();

}  // namespace valtronics::metrics
