// /api/v1/alerts. Reads see only alerts of devices within the token's claims (the engine
// filters). Acknowledge and resolve record claims.sub (or the role) as who; an analyst limited to
// some devices may only act on alerts of those devices (checked by reading the alert with the
// claims first: 404 otherwise, as for a read).
#include <limits>
#include <string>

#include "api/alert_json.hpp"
#include "api/handlers.hpp"
#include "engine/engine.hpp"

namespace valtronics::api::alerts {

namespace json = boost::json;
using auth::Action;

namespace {

auto alert_data() {
  return [](const model::Alert& a) { return to_json(a); };
}

void change(Call& c, bool resolve) {
  auto claims = admit(c, Action::respond);
  if (!claims) return;
  auto id = path_id(c, 0, "alert");
  if (!id) return;
  auto body = body_object(c, true);
  if (!body) return;
  auto notes = notes_from_json(json::value(std::move(*body)));
  if (!notes) return c.fail(notes.error());

  std::string who = claims->sub.empty() ? std::string(auth::to_string(claims->role)) : claims->sub;
  engine::Engine* eng = &c.ctx.engine;
  auto act = [eng, id = *id, resolve, who = std::move(who), notes = std::move(*notes),
              reply = reply_data<model::Alert>(c.respond, 200, alert_data())]() mutable {
    if (resolve) eng->resolve_alert(id, std::move(who), std::move(notes), std::move(reply));
    else eng->acknowledge_alert(id, std::move(who), std::move(notes), std::move(reply));
  };
  if (auth::sees_every_device(*claims)) return act();
  // The engine's acknowledge/resolve take no claims: first make sure the alert is visible to
  // these claims, then act. Runs on the engine thread.
  eng->get_alert(*id, std::move(*claims),
                 [respond = std::move(c.respond),
                  act = std::move(act)](model::Result<model::Alert> seen) mutable {
                   if (!seen) return respond(error_response(seen.error()));
                   act();
                 });
}

}  // namespace

void list(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto q = query_params(c);
  if (!q) return;
  auto page = parse_pagination(*q);
  if (!page) return c.fail(page.error());
  auto statuses = parse_enum_list_param<model::AlertStatus>(*q, "status");
  if (!statuses) return c.fail(statuses.error());
  auto severities = parse_enum_list_param<model::Severity>(*q, "severity");
  if (!severities) return c.fail(severities.error());
  auto types = parse_enum_list_param<model::AlertType>(*q, "alert_type");
  if (!types) return c.fail(types.error());
  auto devices = parse_id_list_param(*q, "device_id");
  if (!devices) return c.fail(devices.error());
  store::AlertQuery aq;
  if (auto since = q->get("since_id")) {
    auto v = parse_int_param("since_id", *since, 0, std::numeric_limits<std::int64_t>::max());
    if (!v) return c.fail(v.error());
    aq.since_id = *v;
  }
  aq.statuses = std::move(*statuses);
  aq.severities = std::move(*severities);
  aq.alert_types = std::move(*types);
  aq.device_ids = std::move(*devices);
  aq.limit = page->size;
  aq.offset = page->offset();
  c.ctx.engine.list_alerts(std::move(aq), std::move(*claims),
                           reply_page<engine::Page<model::Alert>>(std::move(c.respond), *page,
                                                                  alert_data()));
}

void get(Call& c) {
  auto claims = admit(c, Action::read);
  if (!claims) return;
  auto id = path_id(c, 0, "alert");
  if (!id) return;
  c.ctx.engine.get_alert(*id, std::move(*claims),
                         reply_data<model::Alert>(std::move(c.respond), 200, alert_data()));
}

void acknowledge(Call& c) { change(c, false); }
void resolve(Call& c) { change(c, true); }

}  // namespace valtronics::api::alerts
