// The metric families: names, help and labels in one place (docs/operations.md lists them; a
// test holds the list and a scrape equal). Counters are summed over the threads' blocks.
#include "metrics/exposition.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include "metrics/counters.hpp"

namespace valtronics::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr std::array<std::string_view, kEndpoints> kEndpointNames{"websocket", "http"};
constexpr std::array<std::string_view, kAuthFailures> kAuthFailureNames{
    "missing_token", "invalid_token", "token_expired", "token_not_yet_valid", "timeout"};
constexpr std::array<std::string_view, kInPlain> kInPlainNames{
    "auth", "ping", "batch", "invalid", "binary", "ack", "hello"};
constexpr std::array<std::string_view, kChannels> kChannelNames{"telemetry", "alerts", "devices",
                                                                "system"};
constexpr std::array<std::string_view, kOutTypes> kOutTypeNames{
    "telemetry_update", "alert",        "device_status_update", "system_status_update",
    "auth_response",    "subscription", "pong",                 "error",
    "token_expiring",   "batch_response", "snapshot",           "other"};
constexpr std::array<std::string_view, kSlowConsumerReasons> kSlowConsumerNames{"write_timeout",
                                                                                "queue_full"};
constexpr std::array<std::string_view, kRateLimits> kRateLimitNames{"messages", "control_frames",
                                                                    "connections"};
constexpr std::array<std::string_view, kRefusals> kRefusalNames{"400", "403", "404", "429", "503"};
constexpr std::array<std::string_view, kSources> kSourceNames{"http", "mqtt"};

class Builder {
 public:
  explicit Builder(const std::array<std::uint64_t, slot::count>& v) : v_(v) {}

  MetricFamily& family(std::string name, std::string help, MetricType type) {
    families_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  void counter(MetricFamily& f, double value, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    f.metric.push_back(std::move(m));
  }
  void gauge(MetricFamily& f, double value, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    f.metric.push_back(std::move(m));
  }
  // A counter family with one label: one series per name, read from consecutive slots.
  template <std::size_t N>
  void labelled(std::string name, std::string help, const char* label, std::size_t base,
                const std::array<std::string_view, N>& names) {
    auto& f = family(std::move(name), std::move(help), MetricType::Counter);
    for (std::size_t i = 0; i < N; ++i)
      counter(f, static_cast<double>(v_[base + i]), {{label, std::string(names[i])}});
  }
  void single(std::string name, std::string help, std::size_t s) {
    counter(family(std::move(name), std::move(help), MetricType::Counter),
            static_cast<double>(v_[s]));
  }
  void histogram(std::string name, std::string help, Histogram h) {
    auto& f = family(std::move(name), std::move(help), MetricType::Histogram);
    const std::size_t base = slot::histograms + static_cast<std::size_t>(h) * kHistogramSlots;
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += v_[base + i];
      m.histogram.bucket.push_back({cumulative, kLatencyBuckets[i]});
    }
    cumulative += v_[base + kLatencyBuckets.size()];
    m.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = static_cast<double>(v_[base + kLatencyBuckets.size() + 1]) / 1e9;
    f.metric.push_back(std::move(m));
  }
  std::vector<MetricFamily>& families() { return families_; }

 private:
  const std::array<std::uint64_t, slot::count>& v_;
  std::vector<MetricFamily> families_;
};

}  // namespace

std::string render(const Figures& fig) {
  const auto v = read_all();
  Builder b(v);

  // ---- connections ----
  {
    auto& f = b.family("valtronics_connections_active",
                       "Connections open now, by endpoint (websocket: upgraded; http: plain "
                       "HTTP connections, including those reading an upgrade request)",
                       MetricType::Gauge);
    b.gauge(f, static_cast<double>(fig.websocket_active), {{"endpoint", "websocket"}});
    b.gauge(f, static_cast<double>(fig.http_active), {{"endpoint", "http"}});
  }
  b.gauge(b.family("valtronics_connections_unauthenticated",
                   "WebSocket connections open and not yet authenticated", MetricType::Gauge),
          static_cast<double>(fig.websocket_unauthenticated));
  b.labelled("valtronics_connections_total",
             "Connections accepted since start, by endpoint (websocket: upgrades completed)",
             "endpoint", slot::connections_total, kEndpointNames);
  b.single("valtronics_http_requests_total", "HTTP requests read (upgrades included)",
           slot::http_requests);
  b.single("valtronics_http_requests_pipelined_total",
           "HTTP requests dispatched before the one ahead of them on their connection was "
           "answered (pipelined ingest)",
           slot::http_requests_pipelined);

  // ---- auth ----
  b.single("valtronics_auth_successes_total",
           "Tokens accepted (WebSocket auth and handshake bearer, REST bearer)",
           slot::auth_successes);
  b.labelled("valtronics_auth_failures_total",
             "Authentications that failed, by reason (timeout: no auth within auth.auth_timeout)",
             "reason", slot::auth_failures, kAuthFailureNames);

  // ---- messages ----
  {
    auto& f = b.family("valtronics_messages_in_total",
                       "WebSocket messages received, by type (and channel for subscribe and "
                       "unsubscribe; invalid: not a valid request; binary: refused frames)",
                       MetricType::Counter);
    for (std::size_t i = 0; i < kInPlain; ++i)
      b.counter(f, static_cast<double>(v[slot::messages_in + i]),
                {{"channel", "none"}, {"type", std::string(kInPlainNames[i])}});
    for (auto [type, t] : {std::pair{"subscribe", InType::subscribe},
                           std::pair{"unsubscribe", InType::unsubscribe}})
      for (std::size_t c = 0; c < kChannels; ++c)
        b.counter(f, static_cast<double>(v[slot::messages_in + in_index(t, c)]),
                  {{"channel", std::string(kChannelNames[c])}, {"type", type}});
  }
  {
    auto& f = b.family("valtronics_messages_out_total",
                       "WebSocket messages queued to clients, by type and channel (replies are "
                       "on channel none; conflated updates count once)",
                       MetricType::Counter);
    for (std::size_t i = 0; i < kOutTypes; ++i)
      b.counter(f, static_cast<double>(v[slot::messages_out + i]),
                {{"channel", i < kChannels ? std::string(kChannelNames[i]) : "none"},
                 {"type", std::string(kOutTypeNames[i])}});
  }
  b.single("valtronics_bytes_in_total", "Bytes read from WebSocket connections", slot::bytes_in);
  b.single("valtronics_bytes_out_total", "Bytes written to WebSocket connections",
           slot::bytes_out);
  b.counter(b.family("valtronics_socket_writes_total",
                     "Socket writes that carried WebSocket frames (messages out / writes: the "
                     "cork)",
                     MetricType::Counter),
            static_cast<double>(fig.socket_writes));

  // ---- fan-out ----
  {
    std::uint64_t deliveries = 0;  // the messages out of the four update types
    for (std::size_t c = 0; c < kChannels; ++c) deliveries += v[slot::messages_out + c];
    b.counter(b.family("valtronics_fanout_deliveries_total",
                       "Channel updates (telemetry, alerts, device status, system) queued to "
                       "subscribers",
                       MetricType::Counter),
              static_cast<double>(deliveries));
  }
  {
    auto& f = b.family("valtronics_conflated_updates_total",
                       "Telemetry updates merged into a newer one instead of sent: by the hub "
                       "when fan-out is behind (where=hub), by a connection's queue when its "
                       "client reads slowly (where=connection)",
                       MetricType::Counter);
    b.counter(f, static_cast<double>(fig.hub_conflated), {{"where", "hub"}});
    b.counter(f, static_cast<double>(v[slot::queue_conflated]), {{"where", "connection"}});
  }
  b.labelled("valtronics_slow_consumer_disconnects_total",
             "Connections closed with 4009 because their client did not keep up, by reason",
             "reason", slot::slow_consumer, kSlowConsumerNames);

  // ---- abuse ----
  b.labelled("valtronics_rate_limit_hits_total",
             "Messages, control frames or connections refused by a rate limit, by limit", "kind",
             slot::rate_limit_hits, kRateLimitNames);
  b.labelled("valtronics_handshake_refusals_total",
             "WebSocket upgrade requests refused, by HTTP status", "status", slot::refusals,
             kRefusalNames);
  b.counter(b.family("valtronics_bans_total", "Addresses banned for repeated auth failures",
                     MetricType::Counter),
            static_cast<double>(fig.bans));
  b.gauge(b.family("valtronics_banned_addresses", "Addresses banned now", MetricType::Gauge),
          static_cast<double>(fig.banned_addresses));

  // ---- ingest ----
  b.labelled("valtronics_telemetry_points_total",
             "Readings accepted, by source (one reading = one metric value)", "source",
             slot::readings_accepted, kSourceNames);
  b.labelled("valtronics_ingest_rejected_total",
             "Readings refused (bad payload, unknown device, limits), by source", "source",
             slot::readings_rejected, kSourceNames);

  // ---- domain ----
  {
    auto& f = b.family("valtronics_alerts_total", "Alerts raised, by severity and type",
                       MetricType::Counter);
    for (std::size_t s = 0; s < kSeverities; ++s)
      for (std::size_t t = 0; t < kAlertTypes; ++t)
        b.counter(f, static_cast<double>(v[slot::alerts + s * kAlertTypes + t]),
                  {{"alert_type", std::string(kAlertTypeNames[t])},
                   {"severity", std::string(kSeverityNames[s])}});
  }
  if (fig.devices_by_status) {
    auto& f = b.family("valtronics_devices_total", "Registered devices, by status",
                       MetricType::Gauge);
    for (std::size_t i = 0; i < kDeviceStatusNames.size(); ++i)
      b.gauge(f, static_cast<double>((*fig.devices_by_status)[i]),
              {{"status", std::string(kDeviceStatusNames[i])}});
  }

  // ---- store ----
  b.gauge(b.family("valtronics_store_queue_depth", "Store operations waiting to commit",
                   MetricType::Gauge),
          static_cast<double>(fig.store_queue_depth));
  b.gauge(b.family("valtronics_store_available",
                   "1 while the store commits, 0 while it refuses writes (retrying)",
                   MetricType::Gauge),
          fig.store_available ? 1 : 0);
  b.histogram("valtronics_store_commit_seconds", "Time to commit one store transaction",
              Histogram::store_commit);

  // ---- latency ----
  b.histogram("valtronics_ingest_to_enqueue_seconds",
              "From readings handed to the engine (a request or MQTT message parsed) to their "
              "updates queued for the I/O threads",
              Histogram::ingest_to_enqueue);
  b.histogram("valtronics_enqueue_to_write_seconds",
              "From an update queued for an I/O thread to the socket writes carrying it "
              "(one observation per update and thread)",
              Histogram::enqueue_to_write);

  b.gauge(b.family("valtronics_uptime_seconds", "Seconds since the server started",
                   MetricType::Gauge),
          fig.uptime_seconds);

  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, b.families());
  return out.str();
}

}  // namespace valtronics::metrics
