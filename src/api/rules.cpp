// /api/v1/alert-rules, admin and operator tokens only. Body validation (400 naming the field) is
// api/rule_json.
#include <algorithm>
#include <boost/json/array.hpp>

#include "api/handlers.hpp"
#include "api/rule_json.hpp"
#include "engine/engine.hpp"

namespace valtronics::api::rules {

namespace json = boost::json;
using auth::Action;

namespace {

auto rule_data() {
  return [](const model::AlertRule& r) { return to_json(r); };
}

}  // namespace

// The engine returns every rule; the page is cut here (rules are few).
void list(Call& c) {
  if (!admit(c, Action::write)) return;
  auto q = query_params(c);
  if (!q) return;
  auto page = parse_pagination(*q);
  if (!page) return c.fail(page.error());
  c.ctx.engine.list_rules([respond = std::move(c.respond),
                           p = *page](model::Result<std::vector<model::AlertRule>> res) {
    if (!res) return respond(error_response(res.error()));
    const auto& rules = *res;
    json::array items;
    const std::size_t begin = std::min(p.offset(), rules.size());
    const std::size_t end = std::min(begin + p.size, rules.size());
    items.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) items.push_back(to_json(rules[i]));
    respond(page_response(std::move(items), page_info(p, rules.size())));
  });
}

void get(Call& c) {
  if (!admit(c, Action::write)) return;
  auto id = path_id(c, 0, "alert rule");
  if (!id) return;
  c.ctx.engine.get_rule(*id, reply_data<model::AlertRule>(std::move(c.respond), 200, rule_data()));
}

void create(Call& c) {
  if (!admit(c, Action::write)) return;
  auto body = body_object(c, false);
  if (!body) return;
  auto rule = rule_from_json(json::value(std::move(*body)));
  if (!rule) return c.fail(rule.error());
  c.ctx.engine.create_rule(std::move(*rule),
                           reply_data<model::AlertRule>(std::move(c.respond), 201, rule_data()));
}

void update(Call& c) {
  if (!admit(c, Action::write)) return;
  auto id = path_id(c, 0, "alert rule");
  if (!id) return;
  auto body = body_object(c, false);
  if (!body) return;
  c.ctx.engine.update_rule(
      *id,
      [patch = json::value(std::move(*body))](model::AlertRule& r) {
        return apply_rule_patch(r, patch);
      },
      reply_data<model::AlertRule>(std::move(c.respond), 200, rule_data()));
}

void remove(Call& c) {
  if (!admit(c, Action::write)) return;
  auto id = path_id(c, 0, "alert rule");
  if (!id) return;
  c.ctx.engine.delete_rule(*id,
                           reply_data<model::AlertRule>(std::move(c.respond), 200, rule_data()));
}

}  // namespace valtronics::api::rules
