// HTTP routes. Ingest validates the whole body before applying anything (all or nothing), then
// hands it to the engine (or, without one, publishes it to the hub). The REST API lives in
// rest_*.cpp.
#include "net/http_routes.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>

#include "engine/engine.hpp"
#include "engine/ingest.hpp"
#include "net/rest_common.hpp"
#include "protocol/json_writer.hpp"

namespace valtronics::net {

namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

HttpResponse json_response(const HttpRequest& req, http::status status, std::string body) {
  return rest::json_response(rest::ResponseMeta::of(req), static_cast<int>(status),
                             std::move(body));
}

HttpResponse error_for(const HttpRequest& req, int status, std::string_view code,
                       std::string_view message) {
  return error_response(req.version(), req.keep_alive(), status, code, message);
}

// Reads the Bearer token and verifies it; on failure fills `res` with 401.
std::optional<auth::Claims> bearer_claims(const HttpRequest& req, ServerContext& ctx,
                                          HttpResponse& res) {
  auto claims = rest::authenticate(req, ctx);
  if (!claims) {
    res = rest::error_response(rest::ResponseMeta::of(req), claims.error());
    return std::nullopt;
  }
  return std::move(*claims);
}

void ingest(const HttpRequest& req, ServerContext& ctx, bool batch, Respond respond) {
  HttpResponse res;
  auto claims = bearer_claims(req, ctx, res);
  if (!claims) return respond(std::move(res));
  const auto now = util::Clock::now();
  auto parsed = batch ? engine::parse_batch(req.body(), ctx.cfg.ingest.max_items, now)
                      : engine::parse_single(req.body(), now);
  if (!parsed) {
    return respond(json_response(req, static_cast<http::status>(parsed.error().http_status),
                                 engine::to_json(parsed.error())));
  }
  // Authorize every device before applying anything: a request is applied whole or not at all.
  for (const auto& ev : *parsed) {
    if (!auth::may_ingest(*claims, ev.device_id)) {
      return respond(error_for(
          req, 403, "FORBIDDEN",
          "token may not ingest telemetry for device " + std::to_string(ev.device_id)));
    }
  }
  if (ctx.engine != nullptr) {
    // The engine registers or refuses unknown devices, updates statuses, evaluates rules and
    // publishes the telemetry itself.
    ctx.engine->ingest(std::move(*parsed),
                       [meta = rest::ResponseMeta::of(req), respond = std::move(respond)](
                           model::Result<std::size_t> r) {
                         if (!r)
                           return respond(
                               rest::error_response(meta, rest::to_api_error(r.error())));
                         respond(rest::json_response(meta, 202, engine::accepted_json(*r)));
                       });
    return;
  }
  // No engine (unit and integration setups without one): publish straight to the hub.
  std::size_t readings = 0;
  for (auto& ev : *parsed) {
    readings += ev.readings.size();
    ctx.hub.publish(std::move(ev));
  }
  respond(json_response(req, http::status::accepted, engine::accepted_json(readings)));
}

HttpResponse ws_stats(const HttpRequest& req, ServerContext& ctx) {
  HttpResponse res;
  auto claims = bearer_claims(req, ctx, res);
  if (!claims) return res;
  if (!auth::is_admin(*claims)) return error_for(req, 403, "FORBIDDEN", "admin token required");
  const auto s = ctx.registry.stats();
  json::object data{
      {"totalConnections", s.total_connections},
      {"activeConnections", s.active_connections},
      {"messagesReceived", s.messages_received},
      {"messagesSent", s.messages_sent},
      {"averageConnectionDuration", s.average_connection_duration_s},
      {"messagesPerConnection", s.messages_per_connection},
      {"eventsPublished", ctx.hub.published()},
      {"writeTimeouts", s.write_timeouts},
  };
  return json_response(
      req, http::status::ok,
      protocol::to_json(json::object{{"success", true}, {"data", std::move(data)}}));
}

// The synchronous routes.
HttpResponse handle_sync(const HttpRequest& req, ServerContext& ctx, std::string_view target) {
  const auto method = req.method();
  auto only = [&](http::verb v) { return method == v; };

  if (target == "/health") {
    if (!only(http::verb::get) && !only(http::verb::head))
      return error_for(req, 405, "METHOD_NOT_ALLOWED", "use GET /health");
    json::object body{{"status", "ok"},
                      {"active_connections", ctx.registry.active()},
                      {"time", util::iso8601(util::Clock::now())}};
    return json_response(req, http::status::ok, protocol::to_json(body));
  }
  if (target == "/api/v1/ws/stats") {
    if (!only(http::verb::get))
      return error_for(req, 405, "METHOD_NOT_ALLOWED", "use GET /api/v1/ws/stats");
    return ws_stats(req, ctx);
  }
  if (target == "/ws" || target.starts_with("/ws/"))
    return error_for(req, 426, "UPGRADE_REQUIRED", "this endpoint speaks WebSocket only");
  return error_for(req, 404, "NOT_FOUND", "no route for " + std::string(target));
}

}  // namespace

HttpResponse error_response(unsigned version, bool keep_alive, int status, std::string_view code,
                            std::string_view message) {
  HttpResponse res{static_cast<http::status>(status), version};
  res.set(http::field::server, "valtronics");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = protocol::to_json(json::object{
      {"success", false},
      {"error", json::object{{"code", code}, {"message", message}, {"details", json::object{}}}}});
  res.prepare_payload();
  return res;
}

void handle_http(const HttpRequest& req, ServerContext& ctx, Respond respond) {
  std::string_view target = req.target();
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (target == "/api/v1/telemetry" || target == "/api/v1/telemetry/batch") {
    if (req.method() != http::verb::post)
      return respond(
          error_for(req, 405, "METHOD_NOT_ALLOWED", "use POST " + std::string(target)));
    return ingest(req, ctx, target.ends_with("/batch"), std::move(respond));
  }
  if (rest::dispatch(req, ctx, respond)) return;
  respond(handle_sync(req, ctx, target));
}

}  // namespace valtronics::net
