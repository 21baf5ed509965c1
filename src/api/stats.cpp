// GET /api/v1/ws/stats: the spec's ConnectionMonitor figures, for admins.
#include <boost/json/object.hpp>
#include <chrono>

#include "api/handlers.hpp"

namespace valtronics::api::stats {

void get(Call& c) {
  if (!admit(c, auth::Action::view_stats)) return;
  const auto s = c.ctx.connections.stats();
  const auto a = c.ctx.abuse.stats(std::chrono::steady_clock::now());
  boost::json::object data{
      {"totalConnections", s.total_connections},
      {"activeConnections", s.active_connections},
      {"messagesReceived", s.messages_received},
      {"messagesSent", s.messages_sent},
      {"averageConnectionDuration", s.average_connection_duration_s},
      {"messagesPerConnection", s.messages_per_connection},
      {"eventsPublished", c.ctx.hub.published()},
      {"writeTimeouts", s.write_timeouts},
      // Fan-out (docs/architecture.md, "Corked writes"): messages per write is
      // messagesSent / socketWrites; updates the shards merged because they were behind.
      {"socketWrites", s.socket_writes},
      {"conflatedUpdates", c.ctx.hub.conflated()},
      // Abuse (docs/security.md, "Bans, the unauthenticated cap and suspicious patterns").
      {"unauthenticatedConnections", s.unauthenticated_connections},
      {"authFailures", a.auth_failures},
      {"bans", a.bans},
      {"bannedAddresses", a.banned_addresses},
      {"bannedRefusals", a.banned_refusals},
      {"limitViolations", a.limit_violations},
  };
  // MQTT ingest (issue 12; docs/mqtt.md): messages taken from the broker, what they applied,
  // and the messages refused (bad topic or payload, unknown device).
  if (const auto* m = c.ctx.mqtt) {
    data["mqtt"] = boost::json::object{{"state", util::LinkStatus::name(m->snapshot().state)},
                                       {"messages", m->messages.load()},
                                       {"readings", m->readings.load()},
                                       {"statusReports", m->statuses.load()},
                                       {"rejected", m->rejected.load()}};
  }
  // The cluster (issue 12; docs/deployment.md): this node, its peers, its partitions.
  if (c.ctx.cluster) data["cluster"] = c.ctx.cluster->describe();
  c.respond(data_response(200, std::move(data)));
}

}  // namespace valtronics::api::stats
