// Alerts: raised and resolved from rule decisions, acknowledged and resolved by people, read
// within the token's devices. Each insert and state change is published from the writer's
// commit callback: durable before it is sent, and sent in commit (= id) order.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "auth/policy.hpp"
#include "config/limits.hpp"
#include "engine/alert_text.hpp"
#include "engine/engine_impl.hpp"
#include "metrics/counters.hpp"
#include "util/text.hpp"

namespace valtronics::engine {

using model::Alert;
using model::AlertStatus;
using model::Severity;


bool restrict_to_claims(std::vector<std::int64_t>& device_ids, const auth::Claims& claims) {
  if (auth::sees_every_device(claims)) return true;
  std::vector<std::int64_t> allowed;
  if (claims.role != auth::Role::device)
    for (auto d : claims.devices)
      if (model::empty_or_contains(device_ids, d)) allowed.push_back(d);
  device_ids = std::move(allowed);
  return !device_ids.empty();
}

// ---- Engine: post to the engine thread ----

void Engine::list_alerts(store::AlertQuery q, auth::Claims claims,
                         Reply<model::Result<Page<Alert>>> reply) {
  impl_->call(&Impl::list_alerts, std::move(q), std::move(claims), std::move(reply));
}
void Engine::get_alert(std::int64_t id, auth::Claims claims, Reply<model::Result<Alert>> reply) {
  impl_->call(&Impl::get_alert, id, std::move(claims), std::move(reply));
}
void Engine::acknowledge_alert(std::int64_t id, std::string who, std::string notes,
                               Reply<model::Result<Alert>> reply) {
  impl_->call(&Impl::change_alert_status, id, AlertStatus::acknowledged, std::move(who),
              std::move(notes), std::move(reply));
}
void Engine::resolve_alert(std::int64_t id, std::string who, std::string notes,
                           Reply<model::Result<Alert>> reply) {
  impl_->call(&Impl::change_alert_status, id, AlertStatus::resolved, std::move(who),
              std::move(notes), std::move(reply));
}

// ---- on the engine thread ----

Engine::Impl::OpenAlertPtr Engine::Impl::raise_alert(Alert a) {
  metrics::add(metrics::slot::alerts +
               static_cast<std::size_t>(a.severity) * metrics::kAlertTypes +
               static_cast<std::size_t>(a.alert_type));
  auto open =
      std::make_shared<OpenAlert>(OpenAlert{a, std::make_shared<std::atomic<std::int64_t>>(0)});
  writer->submit(
      [a, id = open->id](store::Database& db) { id->store(store::insert_alert(db, a)); },
      [this, a, id = open->id](bool ok) mutable {
        if (!ok) return;
        a.id = id->load();
        hub.publish(model::to_alert_event(a));
        if (a.severity != Severity::critical) return;
        post([this, device = a.device_id, alert_id = a.id] {
          apply_status_transition(tracker.on_critical_alert(device, alert_id, util::Clock::now()));
        });
      },
      store::Writer::Commit::prompt);  // published after the commit: no group-commit wait
  return open;
}

void Engine::Impl::store_alert_state(const AlertIdCell& id, Alert a,
                                     std::function<void(Alert)> done) {
  writer->submit(
      [a, id](store::Database& db) mutable {
        a.id = id->load();
        store::update_alert_state(db, a);
      },
      [this, a, id, done = std::move(done)](bool ok) mutable {
        if (!ok) return;
        a.id = id->load();
        hub.publish(model::to_alert_event(a));
        post([this, a, done = std::move(done)] {
          if (a.status == AlertStatus::resolved && a.severity == Severity::critical)
            apply_status_transition(
                tracker.on_critical_resolved(a.device_id, a.id, util::Clock::now()));
          if (done) done(a);
        });
      },
      store::Writer::Commit::prompt);
}

void Engine::Impl::resolve_open_alert(const OpenAlertPtr& open, const std::string& who,
                                      const std::string& notes, util::TimePoint at) {
  open->alert.status = AlertStatus::resolved;
  open->alert.resolved_at = at;
  open->alert.resolved_by = who;
  if (!notes.empty()) open->alert.notes = notes;
  store_alert_state(open->id, open->alert);
}

void Engine::Impl::apply_rule_decisions(const std::vector<RuleDecision>& decisions) {
  for (const auto& d : decisions) {
    const std::pair key{d.rule.id, d.device_id};
    if (d.kind == RuleDecision::Kind::fire) {
      if (open_rule_alerts.count(key)) continue;  // still open from an earlier episode
      Alert a;
      a.device_id = d.device_id;
      a.severity = d.rule.severity;
      a.alert_type = d.rule.alert_type;
      // Bounded parts only (engine/alert_text): a rule's name, its metric, the reading's unit.
      a.title = util::cut_utf8(d.rule.name, limits::kMaxNameChars);
      a.message = alert_text::threshold(d.rule.metric, d.value, unit_of(d.device_id, d.rule.metric),
                                        d.rule.condition, d.rule.threshold);
      a.timestamp = d.at;
      a.rule_id = d.rule.id;
      a.metadata = {{"threshold_value", d.rule.threshold},
                    {"actual_value", d.value},
                    {"metric", util::cut_utf8(d.rule.metric, limits::kMaxMetricChars)},
                    {"rule_id", d.rule.id},
                    {"condition", model::to_string(d.rule.condition)}};
      open_rule_alerts[key] = raise_alert(std::move(a));
    } else if (auto it = open_rule_alerts.find(key); it != open_rule_alerts.end()) {
      it->second->alert.metadata["resolved_value"] = d.value;
      resolve_open_alert(it->second, "system", "", d.at);
      open_rule_alerts.erase(it);
    }
  }
  // The duration windows these evaluations opened or ended, kept in the database (a restarted
  // node, or one taking the device over, resumes them: engine/rules.hpp).
  for (auto& w : evaluator.take_window_changes()) {
    writer->submit([w](store::Database& db) {
      if (w.since)
        store::save_rule_window(db, {w.rule_id, w.device_id, *w.since, w.value});
      else
        store::delete_rule_window(db, w.rule_id, w.device_id);
    });
  }
}

void Engine::Impl::restore_rule_windows(const std::function<bool(std::int64_t)>& wanted) {
  std::size_t n = 0;
  for (const auto& w : store::load_rule_windows(reader)) {
    if (!devices.count(w.device_id) || !wanted(w.device_id)) continue;
    evaluator.restore_window(w.rule_id, w.device_id, w.since, w.value);
    ++n;
  }
  if (n) spdlog::info("rules: {} duration window(s) in progress resumed", n);
}

void Engine::Impl::list_alerts(store::AlertQuery q, auth::Claims claims,
                               Reply<model::Result<Page<Alert>>> reply) {
  if (!restrict_to_claims(q.device_ids, claims)) return reply(Page<Alert>{});
  try {
    Page<Alert> page;
    page.total = static_cast<std::size_t>(store::count_alerts(reader, q));
    page.items = store::list_alerts(reader, q);
    reply(std::move(page));
  } catch (const store::StoreError& e) {
    spdlog::error("list alerts: {}", e.what());
    reply(model::DomainError{model::DomainError::Kind::internal, "could not read alerts", {}, {}});
  }
}

void Engine::Impl::get_alert(std::int64_t id, auth::Claims claims,
                             Reply<model::Result<Alert>> reply) {
  auto a = store::get_alert(reader, id);
  if (!a || !auth::may_see_device(claims, a->device_id))
    return reply(model::not_found("alert", id));
  reply(std::move(*a));
}

void Engine::Impl::change_alert_status(std::int64_t id, AlertStatus to, std::string who,
                                       std::string notes, Reply<model::Result<Alert>> reply) {
  // An open alert lives in memory (its id may not be stored yet); any other is read back.
  OpenAlertPtr open;
  for (auto& [key, o] : open_rule_alerts)
    if (o->id->load() == id) open = o;
  for (auto& [device, o] : open_offline_alerts)
    if (o->id->load() == id) open = o;
  Alert a;
  if (open) {
    a = open->alert;
    a.id = id;
  } else if (auto stored = store::get_alert(reader, id)) {
    a = std::move(*stored);
  } else {
    return reply(model::not_found("alert", id));
  }
  if (model::rank(a.status) >= model::rank(to)) {
    const std::string now_status(model::to_string(a.status));
    return reply(model::DomainError{model::DomainError::Kind::invalid_state,
                                    "alert " + std::to_string(id) + " is already " + now_status,
                                    {}, boost::json::object{{"status", now_status}}});
  }
  const auto now = util::Clock::now();
  a.status = to;
  if (to == AlertStatus::acknowledged) {
    a.acknowledged_at = now;
    a.acknowledged_by = who;
  } else {
    a.resolved_at = now;
    a.resolved_by = who;
  }
  if (!notes.empty()) a.notes = notes;
  auto id_cell = open ? open->id : std::make_shared<std::atomic<std::int64_t>>(id);
  if (open) {
    open->alert = a;
    if (to == AlertStatus::resolved) {
      // A manually resolved alert closes its episode: the rule fires again only after the
      // condition clears and holds anew.
      std::erase_if(open_rule_alerts, [&](const auto& kv) { return kv.second == open; });
      std::erase_if(open_offline_alerts, [&](const auto& kv) { return kv.second == open; });
    }
  }
  store_alert_state(id_cell, a,
                    [reply = std::move(reply)](Alert stored) { reply(std::move(stored)); });
}

}  // namespace valtronics::engine
