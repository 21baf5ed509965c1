// Parses client frames into typed requests or a catalogued error. No IO, no state.
#pragma once

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages.hpp"

namespace valtronics::protocol {

struct ParseOptions {
  std::size_t max_batch = 50;
  std::chrono::milliseconds system_default_frequency{30'000};
  std::chrono::milliseconds system_min_frequency{1'000};
  // Metric names a `system` subscription may ask for (what engine/system_metrics publishes);
  // any other name is invalid_filter.
  std::vector<std::string> system_metrics{"cpu_usage",        "memory_usage",   "disk_usage",
                                          "active_connections", "load_average_1m", "process_rss_mb",
                                          "uptime_seconds", "unauthenticated_connections",
                                          "auth_failures", "bans", "banned_addresses",
                                          "banned_refusals", "limit_violations",
                                          "cluster_nodes", "cluster_connections"};
};

// Parses one text frame. `id` is read first so that errors echo it when possible.
//  - not JSON / not an object: invalid_json; no string `type`: invalid_message;
//  - type auth: `token` (string; missing or empty -> AuthRequest with empty token);
//  - subscribe: `channel` required; filters read from the top level and from `filters` (an object),
//    same meaning; a key in both with different values: invalid_filter. Keys that are not filters
//    (type, id, channel, filters) are skipped. Unknown key: unknown_filter naming it; wrong type or
//    value: invalid_filter naming it. Per channel:
//      telemetry: device_id (int>0 or list of them), metrics (list of strings), frequency
//                 ("real-time" or a duration string, at least 100ms);
//      alerts: device_id, severity (string or list of info|warning|critical), alert_type (string or
//              list of threshold|anomaly|device|system|manual);
//      devices: device_id, status_types (list of online|offline|warning|error|maintenance;
//               a single string accepted too);
//      system: metrics (list of strings), frequency (duration, >= system_min_frequency; default
//              system_default_frequency).
//  - unsubscribe: channel required, device_id optional (single int);
//  - ping: optional timestamp (any JSON value, echoed);
//  - batch: `messages` array; more than max_batch: batch_too_large; an element whose type is
//    "batch": nested_batch (none executed).
boost::system::result<Request, ProtocolError> parse_request(std::string_view text,
                                                             const ParseOptions& opts);

// Same as parse_request for an already parsed JSON value (a batch element).
boost::system::result<Request, ProtocolError> parse_request_value(const boost::json::value& v,
                                                                   const ParseOptions& opts);

// Cheap check used before the size limit is applied: is this frame a batch message?
// (Looks for `"type":"batch"` with a real JSON parse; false on invalid JSON.)
bool is_batch_frame(std::string_view text);

}  // namespace valtronics::protocol
