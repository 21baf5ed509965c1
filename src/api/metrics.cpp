// GET /metrics: who may scrape, and the figures read from the server's parts at scrape time;
// the counters and the text format are metrics/'s.
#include <algorithm>
#include <chrono>

#include "api/errors.hpp"
#include "api/handlers.hpp"
#include "engine/engine.hpp"
#include "metrics/exposition.hpp"

namespace valtronics::api::scrape {

namespace {

// Prometheus servers scrape from known addresses (metrics.allow, loopback by default); anyone
// else shows an admin token, as for /api/v1/ws/stats.
bool allowed_without_token(const Call& c) {
  const auto address = util::IpAddress::parse(c.request.client_address);
  return address && std::any_of(c.ctx.metrics_allow.begin(), c.ctx.metrics_allow.end(),
                                [&](const util::IpNetwork& n) { return n.contains(*address); });
}

metrics::Figures read_figures(const Context& ctx) {
  metrics::Figures f;
  const auto s = ctx.connections.stats();
  f.websocket_active = s.active_connections;
  f.websocket_unauthenticated = s.unauthenticated_connections;
  f.socket_writes = s.socket_writes;
  f.http_active = ctx.http_connections ? ctx.http_connections() : 0;
  f.hub_conflated = ctx.hub.conflated();
  const auto a = ctx.abuse.stats(std::chrono::steady_clock::now());
  f.bans = a.bans;
  f.banned_addresses = a.banned_addresses;
  const auto store = ctx.engine.storage_health();
  f.store_queue_depth = store.queued;
  f.store_available = store.available;
  f.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.started).count();
  return f;
}

}  // namespace

void get(Call& c) {
  if (c.ctx.cfg.metrics.listen_enabled() && !c.request.metrics_listener)
    return c.respond(error_response(ErrorCode::not_found,
                                    "GET /metrics is served on metrics.listen (" +
                                        c.ctx.cfg.metrics.listen_host + ":" +
                                        std::to_string(c.ctx.cfg.metrics.listen_port) + ")"));
  if (!allowed_without_token(c) && !admit(c, auth::Action::view_stats)) return;
  auto figures = read_figures(c.ctx);
  // Devices by status are the engine's: asked on its thread, answered from there.
  c.ctx.engine.device_status_counts(
      [figures, respond = std::move(c.respond)](std::array<std::uint64_t, 5> counts) mutable {
        figures.devices_by_status = counts;
        Response r;
        r.content_type = std::string(metrics::kContentType);
        r.text = metrics::render(figures);
        respond(std::move(r));
      });
}

}  // namespace valtronics::api::scrape
