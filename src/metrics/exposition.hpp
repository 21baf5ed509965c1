// GET /metrics: the counters (metrics/counters.hpp) and the figures read at scrape time, as
// Prometheus text exposition format 0.0.4, built and serialized by prometheus-cpp.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace valtronics::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Label values of the domain's enums, in their order (a unit test holds them equal to
// model::EnumNames; this folder cannot include model/).
inline constexpr std::array<std::string_view, 3> kSeverityNames{"info", "warning", "critical"};
inline constexpr std::array<std::string_view, 5> kAlertTypeNames{"threshold", "anomaly", "device",
                                                                 "system", "manual"};
inline constexpr std::array<std::string_view, 5> kDeviceStatusNames{"online", "offline", "warning",
                                                                    "error", "maintenance"};

// What a scrape reads from the running server's parts rather than from the counters.
struct Figures {
  std::uint64_t websocket_active = 0;        // WebSocket connections open
  std::uint64_t websocket_unauthenticated = 0;
  std::uint64_t http_active = 0;             // plain HTTP connections open
  std::uint64_t hub_conflated = 0;           // updates the hub's shards merged (behind)
  std::uint64_t socket_writes = 0;           // writes that carried WebSocket frames
  std::uint64_t bans = 0, banned_addresses = 0;
  // Devices by status (as this node's engine knows them); absent: the family is left out.
  std::optional<std::array<std::uint64_t, 5>> devices_by_status;
  std::uint64_t store_queue_depth = 0;       // store operations waiting to commit
  bool store_available = true;
  double uptime_seconds = 0;
};

std::string render(const Figures& f);

}  // namespace valtronics::metrics
