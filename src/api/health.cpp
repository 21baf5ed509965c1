// GET /health: liveness for load balancers and scripts; no token.
#include <boost/json/object.hpp>

#include "api/handlers.hpp"
#include "util/time.hpp"

namespace valtronics::api::health {

void get(Call& c) {
  c.respond(Response{200,
                     boost::json::object{{"status", "ok"},
                                         {"active_connections", c.ctx.connections.active()},
                                         {"time", util::iso8601(util::Clock::now())}},
                     {}});
}

}  // namespace valtronics::api::health
