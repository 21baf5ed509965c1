// GET /health: liveness for load balancers and scripts; no token.
#include <boost/json/object.hpp>

#include "api/handlers.hpp"
#include "engine/engine.hpp"
#include "util/time.hpp"

namespace valtronics::api::health {

namespace {
// "degraded" while the store refuses writes: the server still serves WebSockets, REST reads and
// live readings, so the answer stays 200 (a load balancer must not cut live dashboards), but
// monitoring sees the state and its reason.
boost::json::object storage_state(const engine::Engine& engine) {
  auto h = engine.storage_health();
  boost::json::object out{{"writable", h.available}, {"queued_writes", h.queued}};
  if (!h.available) out["error"] = h.last_error;
  return out;
}
}  // namespace

void get(Call& c) {
  auto storage = storage_state(c.ctx.engine);
  const bool writable = storage["writable"].as_bool();
  c.respond(Response{200,
                     boost::json::object{{"status", writable ? "ok" : "degraded"},
                                         {"active_connections", c.ctx.connections.active()},
                                         {"storage", std::move(storage)},
                                         {"time", util::iso8601(util::Clock::now())}},
                     {}});
}

}  // namespace valtronics::api::health
