// REST: /api/v1/alerts.
//   GET  /alerts                    list, ordered by alert_id; filters status, severity,
//                                   alert_type, device_id (each a comma-separated list or a
//                                   repeated parameter), since_id (alert_id > since_id);
//                                   page, size                                          read
//   GET  /alerts/{id}               one alert                                           read
//   POST /alerts/{id}/acknowledge   body empty or {"notes": "..."}                      respond
//   POST /alerts/{id}/resolve       same                                                respond
// Reads see only alerts of devices within the token's claims (the engine filters). Acknowledge
// and resolve record claims.sub as who; an analyst limited to some devices may only act on
// alerts of those devices (checked by reading the alert with the claims first).
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>
#include <limits>

#include "auth/policy.hpp"
#include "engine/engine.hpp"
#include "net/rest_common.hpp"

namespace valtronics::net::rest {

namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

auto alert_data() {
  return [](const model::Alert& a) { return json::value(engine::to_json(a)); };
}

void list_alerts(const RestRequest& r, Respond respond) {
  auto claims = admit(r, Access::read, respond);
  if (!claims) return;
  auto q = query_params(r, respond);
  if (!q) return;
  auto fail = [&](const ApiError& e) { respond(error_response(r.meta, e)); };
  auto page = parse_pagination(*q);
  if (!page) return fail(page.error());
  store::AlertQuery aq;
  auto statuses = parse_enum_list_param<model::AlertStatus>(*q, "status");
  if (!statuses) return fail(statuses.error());
  auto severities = parse_enum_list_param<model::Severity>(*q, "severity");
  if (!severities) return fail(severities.error());
  auto types = parse_enum_list_param<model::AlertType>(*q, "alert_type");
  if (!types) return fail(types.error());
  auto devices = parse_id_list_param(*q, "device_id");
  if (!devices) return fail(devices.error());
  if (auto since = q->get("since_id")) {
    auto v = parse_int_param("since_id", *since, 0, std::numeric_limits<std::int64_t>::max());
    if (!v) return fail(v.error());
    aq.since_id = *v;
  }
  aq.statuses = std::move(*statuses);
  aq.severities = std::move(*severities);
  aq.alert_types = std::move(*types);
  aq.device_ids = std::move(*devices);
  aq.limit = page->size;
  aq.offset = page->offset();
  r.ctx.engine->list_alerts(std::move(aq), std::move(*claims),
                            reply_page<engine::Page<model::Alert>>(r.meta, std::move(respond),
                                                                   *page));
}

void get_alert(const RestRequest& r, Respond respond) {
  auto claims = admit(r, Access::read, respond);
  if (!claims) return;
  auto id = path_id(r, r.segments[1], "alert", respond);
  if (!id) return;
  r.ctx.engine->get_alert(*id, std::move(*claims),
                          reply_data<model::Alert>(r.meta, std::move(respond), 200, alert_data()));
}

// Acknowledge or resolve.
void change_alert(const RestRequest& r, Respond respond, bool resolve) {
  auto claims = admit(r, Access::respond, respond);
  if (!claims) return;
  auto id = path_id(r, r.segments[1], "alert", respond);
  if (!id) return;
  auto body = body_object(r, true, respond);
  if (!body) return;
  auto notes = engine::notes_from_json(json::value(std::move(*body)));
  if (!notes) return respond(error_response(r.meta, notes.error()));

  std::string who = claims->sub.empty() ? std::string(auth::to_string(claims->role)) : claims->sub;
  engine::Engine* eng = r.ctx.engine;
  auto act = [eng, id = *id, resolve, who = std::move(who), notes = std::move(*notes),
              reply = reply_data<model::Alert>(r.meta, respond, 200, alert_data())]() mutable {
    if (resolve) eng->resolve_alert(id, std::move(who), std::move(notes), std::move(reply));
    else eng->acknowledge_alert(id, std::move(who), std::move(notes), std::move(reply));
  };
  if (auth::sees_every_device(*claims)) return act();
  // The engine's acknowledge/resolve take no claims: first make sure the alert is visible to
  // this analyst (404 otherwise, as for a read), then act. Runs on the engine thread.
  eng->get_alert(*id, std::move(*claims),
                 [m = r.meta, respond, act = std::move(act)](
                     model::Result<model::Alert> seen) mutable {
                   if (!seen) return respond(error_response(m, to_api_error(seen.error())));
                   act();
                 });
}

}  // namespace

void handle_alerts(const RestRequest& r, Respond respond) {
  const auto& s = r.segments;
  const auto m = r.req.method();
  if (s.size() == 1) {
    if (m == http::verb::get) return list_alerts(r, std::move(respond));
    return respond(method_not_allowed(r.meta, r.path, "GET"));
  }
  if (s.size() == 2) {
    if (m == http::verb::get) return get_alert(r, std::move(respond));
    return respond(method_not_allowed(r.meta, r.path, "GET"));
  }
  if (s.size() == 3 && (s[2] == "acknowledge" || s[2] == "resolve")) {
    if (m == http::verb::post) return change_alert(r, std::move(respond), s[2] == "resolve");
    return respond(method_not_allowed(r.meta, r.path, "POST"));
  }
  respond(error_response(r.meta, route_not_found(r.path)));
}

}  // namespace valtronics::net::rest
