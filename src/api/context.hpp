// What the HTTP API needs from the server: built by net/server_context.hpp, so that api/ knows
// nothing of net/.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "auth/abuse_monitor.hpp"
#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "engine/engine.hpp"
#include "hub/hub.hpp"
#include "session/connection_registry.hpp"
#include "util/ip_network.hpp"
#include "util/link_status.hpp"

namespace valtronics::store {
class Reader;  // store/reader.hpp
}  // namespace valtronics::store

namespace valtronics::api {

class StaticFiles;  // api/static_files.hpp

struct Context {
  const config::Config& cfg;
  const auth::JwtVerifier& verifier;   // bearer tokens (thread-safe)
  engine::Engine& engine;              // devices, rules, alerts, ingest
  const session::ConnectionRegistry& connections;  // /health and /api/v1/ws/stats figures
  const hub::Hub& hub;                 // events published, for /api/v1/ws/stats
  auth::AbuseMonitor& abuse;           // bad bearer tokens; the abuse figures of the stats
  // The MQTT ingest link (issue 12) for /health and the stats; null when [mqtt] url is unset.
  const util::LinkStatus* mqtt = nullptr;
  // The cluster node (issue 12; cluster/node.hpp), described for /health and the stats: node id,
  // NATS link, peers, partitions owned. Empty when the server is not clustered.
  struct ClusterView {
    std::function<boost::json::object()> describe;
    std::function<bool()> connected;  // to NATS: "degraded" in /health otherwise
  };
  std::optional<ClusterView> cluster{};
  // GET /metrics (issue 13): the addresses that scrape without a token (metrics.allow), the
  // plain HTTP connections open now, and when the server started.
  std::vector<util::IpNetwork> metrics_allow{};
  std::function<std::uint64_t()> http_connections{};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // Telemetry history reads (issue 14; store/reader.hpp): their own threads and connections.
  // Null: the history routes answer 503.
  store::Reader* reader = nullptr;
  // The dashboard's files (issue 14), loaded at start by the application; null when none.
  const StaticFiles* web = nullptr;
};

}  // namespace valtronics::api
