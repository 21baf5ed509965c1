// REST: /api/v1/alert-rules, admin and operator tokens only.
//   GET    /alert-rules            list (page, size; ordered by id)
//   POST   /alert-rules            create (201)
//   GET    /alert-rules/{id}       one rule
//   PUT    /alert-rules/{id}, PATCH  partial update (only the fields given change)
//   DELETE /alert-rules/{id}       delete (200 with the deleted rule)
// Body validation (400 naming the field) is model_json's rule_from_json / apply_rule_patch.
#include <algorithm>
#include <boost/beast/http/verb.hpp>
#include <boost/json/object.hpp>

#include "engine/engine.hpp"
#include "net/rest_common.hpp"

namespace valtronics::net::rest {

namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

auto rule_data() {
  return [](const model::AlertRule& rule) { return json::value(engine::to_json(rule)); };
}

// The engine returns every rule; the page is cut here (rules are few).
void list_rules(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto q = query_params(r, respond);
  if (!q) return;
  auto page = parse_pagination(*q);
  if (!page) return respond(error_response(r.meta, page.error()));
  r.ctx.engine->list_rules([m = r.meta, respond = std::move(respond),
                            p = *page](model::Result<std::vector<model::AlertRule>> res) {
    if (!res) return respond(error_response(m, to_api_error(res.error())));
    const auto& rules = *res;
    json::array items;
    const std::size_t begin = std::min(p.offset(), rules.size());
    const std::size_t end = std::min(begin + p.size, rules.size());
    items.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) items.push_back(engine::to_json(rules[i]));
    respond(page_response(m, std::move(items), page_info(p, rules.size())));
  });
}

void get_rule(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto id = path_id(r, r.segments[1], "alert rule", respond);
  if (!id) return;
  r.ctx.engine->get_rule(
      *id, reply_data<model::AlertRule>(r.meta, std::move(respond), 200, rule_data()));
}

void create_rule(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto body = body_object(r, false, respond);
  if (!body) return;
  auto rule = engine::rule_from_json(json::value(std::move(*body)));
  if (!rule) return respond(error_response(r.meta, rule.error()));
  r.ctx.engine->create_rule(
      std::move(*rule), reply_data<model::AlertRule>(r.meta, std::move(respond), 201, rule_data()));
}

void update_rule(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto id = path_id(r, r.segments[1], "alert rule", respond);
  if (!id) return;
  auto body = body_object(r, false, respond);
  if (!body) return;
  r.ctx.engine->update_rule(
      *id,
      [patch = json::value(std::move(*body))](model::AlertRule& rule) {
        auto res = engine::apply_rule_patch(rule, patch);
        return res ? model::Result<void>() : model::Result<void>(to_domain_error(res.error()));
      },
      reply_data<model::AlertRule>(r.meta, std::move(respond), 200, rule_data()));
}

void delete_rule(const RestRequest& r, Respond respond) {
  if (!admit(r, Access::write, respond)) return;
  auto id = path_id(r, r.segments[1], "alert rule", respond);
  if (!id) return;
  r.ctx.engine->delete_rule(
      *id, reply_data<model::AlertRule>(r.meta, std::move(respond), 200, rule_data()));
}

}  // namespace

void handle_rules(const RestRequest& r, Respond respond) {
  const auto& s = r.segments;
  const auto m = r.req.method();
  if (s.size() == 1) {
    if (m == http::verb::get) return list_rules(r, std::move(respond));
    if (m == http::verb::post) return create_rule(r, std::move(respond));
    return respond(method_not_allowed(r.meta, r.path, "GET, POST"));
  }
  if (s.size() == 2) {
    if (m == http::verb::get) return get_rule(r, std::move(respond));
    if (m == http::verb::put || m == http::verb::patch) return update_rule(r, std::move(respond));
    if (m == http::verb::delete_) return delete_rule(r, std::move(respond));
    return respond(method_not_allowed(r.meta, r.path, "GET, PUT, PATCH, DELETE"));
  }
  respond(error_response(r.meta, route_not_found(r.path)));
}

}  // namespace valtronics::net::rest
