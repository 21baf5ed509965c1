// Samples the host's real figures for the `system` channel: CPU from /proc/stat deltas, memory
// from /proc/meminfo, disk from statvfs, load from /proc/loadavg, the process's own RSS from
// /proc/self/statm, and the server's live connection count. Nothing is invented.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "model/events.hpp"

namespace valtronics::engine {

// The metric names the system channel knows; a subscription naming another is invalid_filter.
const std::vector<std::string>& system_metric_names();
// (issue 12) Added to each update by a cluster node (cluster/node.hpp): live nodes and their
// WebSocket connections together. A subscription may name them on any server.
const std::vector<std::string>& cluster_metric_names();

// The server's own figures a sample carries: connections, and the abuse counters
// (auth/abuse_monitor; the same figures as /api/v1/ws/stats, in snake_case).
struct ServerFigures {
  std::uint64_t active_connections = 0;
  std::uint64_t unauthenticated_connections = 0;
  std::uint64_t auth_failures = 0;
  std::uint64_t bans = 0;
  std::uint64_t banned_addresses = 0;
  std::uint64_t banned_refusals = 0;
  std::uint64_t limit_violations = 0;
};

class SystemSampler {
 public:
  explicit SystemSampler(std::string disk_path = "/");

  // Takes one sample. cpu_usage is the busy share (%) of all CPUs since the previous call (since
  // boot on the first). Metrics (all percentages rounded to 0.1): cpu_usage, memory_usage,
  // disk_usage, active_connections, load_average_1m, process_rss_mb, uptime_seconds, then the
  // other ServerFigures under their field names.
  model::SystemEvent sample(const ServerFigures& server, util::TimePoint now);

 private:
  std::string disk_path_;
  std::uint64_t prev_busy_ = 0, prev_total_ = 0;
  // Two samples within one clock tick of /proc/stat see no delta: the last figure is repeated.
  double last_cpu_ = 0;
};

}  // namespace valtronics::engine
