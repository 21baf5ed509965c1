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
// The MQTT ingest link (issue 12): "degraded" too while it is not connected, for the same
// reason (devices publishing over MQTT are not heard, everything else works).
boost::json::object link_state(const util::LinkStatus& link) {
  const auto s = link.snapshot();
  boost::json::object out{{"state", util::LinkStatus::name(s.state)},
                          {"broker", s.endpoint},
                          {"since", util::iso8601(s.since)},
                          {"connects", s.connects}};
  if (!s.error.empty() && s.state != util::LinkStatus::State::connected) out["error"] = s.error;
  return out;
}
}  // namespace

void get(Call& c) {
  auto storage = storage_state(c.ctx.engine);
  bool healthy = storage["writable"].as_bool();
  boost::json::object body{{"status", "ok"},
                           {"active_connections", c.ctx.connections.active()},
                           {"storage", std::move(storage)}};
  if (c.ctx.mqtt) {
    healthy = healthy && c.ctx.mqtt->snapshot().state == util::LinkStatus::State::connected;
    body["mqtt"] = link_state(*c.ctx.mqtt);
  }
  if (c.ctx.cluster) {
    healthy = healthy && c.ctx.cluster->connected();
    body["cluster"] = c.ctx.cluster->describe();
  }
  if (!healthy) body["status"] = "degraded";
  body["time"] = util::iso8601(util::Clock::now());
  c.respond(Response{200, std::move(body), {}});
}

}  // namespace valtronics::api::health
