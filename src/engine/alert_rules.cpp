// The alert rule set: read, create, update, delete. A change goes to the evaluator first, so the
// decisions it makes (open alerts of a changed or removed rule resolve, a new rule may fire at
// once) apply before the change is stored; the reply comes once it is.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine/engine_impl.hpp"

namespace valtronics::engine {

using model::AlertRule;

// ---- Engine: post to the engine thread ----

void Engine::list_rules(Reply<model::Result<std::vector<AlertRule>>> reply) {
  impl_->call(&Impl::list_rules, std::move(reply));
}
void Engine::get_rule(std::int64_t id, Reply<model::Result<AlertRule>> reply) {
  impl_->call(&Impl::get_rule, id, std::move(reply));
}
void Engine::create_rule(AlertRule r, Reply<model::Result<AlertRule>> reply) {
  impl_->call(&Impl::create_rule, std::move(r), std::move(reply));
}
void Engine::update_rule(std::int64_t id, std::function<model::Result<void>(AlertRule&)> patch,
                         Reply<model::Result<AlertRule>> reply) {
  impl_->call(&Impl::update_rule, id, std::move(patch), std::move(reply));
}
void Engine::delete_rule(std::int64_t id, Reply<model::Result<AlertRule>> reply) {
  impl_->call(&Impl::delete_rule, id, std::move(reply));
}

// ---- on the engine thread ----

void Engine::Impl::list_rules(Reply<model::Result<std::vector<AlertRule>>> reply) {
  reply(evaluator.rules());
}

void Engine::Impl::get_rule(std::int64_t id, Reply<model::Result<AlertRule>> reply) {
  for (const auto& r : evaluator.rules())
    if (r.id == id) return reply(r);
  reply(model::not_found("alert rule", id));
}

void Engine::Impl::create_rule(AlertRule r, Reply<model::Result<AlertRule>> reply) {
  r.created_at = r.updated_at = util::Clock::now();
  if (partitioning) {
    // Nodes create rules concurrently: the shared database picks the id, at once.
    try {
      r.id = 0;
      r.id = store::insert_rule(reader, r);
    } catch (const store::StoreError& e) {
      spdlog::error("create rule: {}", e.what());
      return reply(model::DomainError{model::DomainError::Kind::internal,
                                      "could not store the rule", {}, {}});
    }
    next_rule_id = std::max(next_rule_id, r.id + 1);
  } else {
    r.id = next_rule_id++;
  }
  auto rules = evaluator.rules();
  rules.push_back(r);
  apply_rule_decisions(evaluator.set_rules(std::move(rules), r.created_at));
  if (!partitioning) writer->submit([r](store::Database& db) { store::insert_rule(db, r); });
  notify({Change::Kind::rules});
  reply_after_commit<model::Result<AlertRule>>(std::move(reply), r);
}

void Engine::Impl::update_rule(std::int64_t id,
                               std::function<model::Result<void>(AlertRule&)> patch,
                               Reply<model::Result<AlertRule>> reply) {
  auto rules = evaluator.rules();
  auto it = std::find_if(rules.begin(), rules.end(), [&](const AlertRule& r) { return r.id == id; });
  if (it == rules.end()) return reply(model::not_found("alert rule", id));
  AlertRule updated = *it;
  if (auto r = patch(updated); !r) return reply(r.error());
  updated.id = id;
  updated.updated_at = util::Clock::now();
  *it = updated;
  apply_rule_decisions(evaluator.set_rules(std::move(rules), updated.updated_at));
  writer->submit([updated](store::Database& db) { store::update_rule(db, updated); });
  notify({Change::Kind::rules});
  reply_after_commit<model::Result<AlertRule>>(std::move(reply), updated);
}

void Engine::Impl::delete_rule(std::int64_t id, Reply<model::Result<AlertRule>> reply) {
  auto rules = evaluator.rules();
  auto it = std::find_if(rules.begin(), rules.end(), [&](const AlertRule& r) { return r.id == id; });
  if (it == rules.end()) return reply(model::not_found("alert rule", id));
  AlertRule gone = *it;
  rules.erase(it);
  apply_rule_decisions(evaluator.set_rules(std::move(rules), util::Clock::now()));
  writer->submit([id](store::Database& db) { store::delete_rule(db, id); });
  notify({Change::Kind::rules});
  reply_after_commit<model::Result<AlertRule>>(std::move(reply), gone);
}

}  // namespace valtronics::engine
