// Alert rule evaluation: a small state machine per (rule, device).
//
//   idle --condition holds--> pending (holding_since) --held for `duration` and cooldown over--> firing
//   pending --condition stops holding--> idle              (a dip resets the duration)
//   firing --value cleared by the hysteresis margin--> idle   (resolve decision)
//
// While pending, the plain condition decides (no hysteresis: the condition must really hold for
// the whole duration). While firing, only condition_cleared() ends the episode, so a value that
// wobbles between the threshold and threshold -/+ margin keeps the one alert open.
// Cooldown counts from the moment the last alert of (rule, device) was raised; a pending episode
// whose duration has passed fires as soon as the cooldown is over, from a reading or from tick().
#include "engine/rules.hpp"

#include <algorithm>
#include <cmath>

namespace valtronics::engine {

using model::AlertRule;
using model::Condition;

bool condition_holds(const AlertRule& rule, double value) {
  const double t = rule.threshold;
  switch (rule.condition) {
    case Condition::gt: return value > t;
    case Condition::gte: return value >= t;
    case Condition::lt: return value < t;
    case Condition::lte: return value <= t;
    case Condition::eq: return value == t;
    case Condition::ne: return value != t;
  }
  return false;
}

double hysteresis_margin(const AlertRule& rule) {
  switch (rule.condition) {
    case Condition::eq:
    case Condition::ne: return 0.0;
    default: return std::max(0.01 * std::fabs(rule.threshold), 0.01);
  }
}

// The complement of the condition, moved away from the threshold by the margin: for gt (holds
// above t) the episode ends at t - m or below; for gte (holds at t and above) strictly below
// t - m; mirrored for lt/lte. With a zero margin (eq/ne) this is exactly "no longer holds".
bool condition_cleared(const AlertRule& rule, double value) {
  const double t = rule.threshold;
  const double m = hysteresis_margin(rule);
  switch (rule.condition) {
    case Condition::gt: return value <= t - m;
    case Condition::gte: return value < t - m;
    case Condition::lt: return value >= t + m;
    case Condition::lte: return value > t + m;
    case Condition::eq: return value != t;
    case Condition::ne: return value == t;
  }
  return true;
}

namespace {

bool applies(const AlertRule& r, std::int64_t device_id, model::DeviceType device_type,
             std::string_view metric) {
  if (!r.enabled || r.metric != metric) return false;
  if (r.device_id && *r.device_id != device_id) return false;
  if (r.device_type && *r.device_type != device_type) return false;
  return true;
}

// Changes that make the old evaluation state meaningless: the episode must start afresh.
// Disabling a rule counts too: a disabled rule is no longer evaluated, so an alert left open
// would never resolve.
bool evaluation_changed(const AlertRule& a, const AlertRule& b) {
  return a.condition != b.condition || a.threshold != b.threshold || a.metric != b.metric ||
         a.device_id != b.device_id || a.device_type != b.device_type ||
         (a.enabled && !b.enabled);
}

bool cooldown_over(const AlertRule& r, const std::optional<util::TimePoint>& last_fired,
                   util::TimePoint at) {
  return !last_fired || at - *last_fired >= r.cooldown;
}

}  // namespace

std::vector<RuleDecision> RuleEvaluator::set_rules(std::vector<AlertRule> rules,
                                                   util::TimePoint now) {
  std::map<std::int64_t, const AlertRule*> old_by_id, new_by_id;
  for (const auto& r : rules_) old_by_id[r.id] = &r;
  for (const auto& r : rules) new_by_id[r.id] = &r;

  std::vector<RuleDecision> out;
  for (auto it = state_.begin(); it != state_.end();) {
    const std::int64_t rule_id = it->first.first;
    auto old_it = old_by_id.find(rule_id);
    auto new_it = new_by_id.find(rule_id);
    bool drop;
    if (new_it == new_by_id.end()) {
      drop = true;  // removed (or state restored for a rule that no longer exists)
    } else if (old_it == old_by_id.end()) {
      drop = false;  // state restored before the rules were first set: keep it
    } else {
      drop = evaluation_changed(*old_it->second, *new_it->second);
    }
    if (!drop) {
      ++it;
      continue;
    }
    end_window(it->first, it->second);
    if (it->second.firing) {
      AlertRule rule;
      if (old_it != old_by_id.end()) {
        rule = *old_it->second;
      } else if (new_it != new_by_id.end()) {
        rule = *new_it->second;
      } else {
        rule.id = rule_id;
      }
      out.push_back(RuleDecision{RuleDecision::Kind::resolve, std::move(rule), it->first.second,
                                 it->second.last_value, now});
    }
    it = state_.erase(it);
  }
  rules_ = std::move(rules);
  return out;
}

std::vector<RuleDecision> RuleEvaluator::on_reading(std::int64_t device_id,
                                                    model::DeviceType device_type,
                                                    std::string_view metric, double value,
                                                    util::TimePoint at) {
  std::vector<RuleDecision> out;
  for (const auto& rule : rules_) {
    if (!applies(rule, device_id, device_type, metric)) continue;
    auto key = std::make_pair(rule.id, device_id);
    auto it = state_.find(key);
    if (it == state_.end()) {
      // Create state only when there is something to remember.
      if (!condition_holds(rule, value)) continue;
      it = state_.emplace(key, State{}).first;
    }
    State& s = it->second;
    s.last_value = value;
    if (s.firing) {
      if (condition_cleared(rule, value)) {
        s.firing = false;
        s.holding = false;
        out.push_back(RuleDecision{RuleDecision::Kind::resolve, rule, device_id, value, at});
      }
      continue;
    }
    if (!condition_holds(rule, value)) {
      s.holding = false;
      end_window(key, s);
      continue;
    }
    if (!s.holding) {
      s.holding = true;
      s.holding_since = at;
    }
    if (at - s.holding_since >= rule.duration && cooldown_over(rule, s.last_fired, at)) {
      s.firing = true;
      s.last_fired = at;
      end_window(key, s);
      out.push_back(RuleDecision{RuleDecision::Kind::fire, rule, device_id, value, at});
    } else if (!s.window_stored && rule.duration.count() > 0) {
      // Pending (its duration, or a cooldown, to wait out): kept where a restart finds it.
      s.window_stored = true;
      window_changes_.push_back({rule.id, device_id, s.holding_since, value});
    }
  }
  return out;
}

void RuleEvaluator::end_window(std::pair<std::int64_t, std::int64_t> key, State& s) {
  if (!s.window_stored) return;
  s.window_stored = false;
  window_changes_.push_back({key.first, key.second, std::nullopt, s.last_value});
}

std::vector<RuleDecision> RuleEvaluator::tick(util::TimePoint now) {
  std::vector<RuleDecision> out;
  if (state_.empty()) return out;
  std::map<std::int64_t, const AlertRule*> by_id;
  for (const auto& r : rules_) by_id[r.id] = &r;
  for (auto& [key, s] : state_) {
    if (s.firing || !s.holding) continue;
    auto r = by_id.find(key.first);
    if (r == by_id.end() || !r->second->enabled) continue;
    const AlertRule& rule = *r->second;
    if (now - s.holding_since >= rule.duration && cooldown_over(rule, s.last_fired, now)) {
      s.firing = true;
      s.last_fired = now;
      end_window(key, s);
      out.push_back(RuleDecision{RuleDecision::Kind::fire, rule, key.second, s.last_value, now});
    }
  }
  return out;
}

void RuleEvaluator::restore_firing(std::int64_t rule_id, std::int64_t device_id,
                                   util::TimePoint raised_at) {
  State& s = state_[std::make_pair(rule_id, device_id)];
  s.holding = true;
  s.holding_since = raised_at;
  s.firing = true;
  s.last_fired = raised_at;
  s.last_value = 0;
  for (const auto& r : rules_) {
    if (r.id == rule_id) {
      s.last_value = r.threshold;  // the triggering value is not known after a restart
      break;
    }
  }
}

void RuleEvaluator::restore_last_fired(std::int64_t rule_id, std::int64_t device_id,
                                       util::TimePoint at) {
  State& s = state_[std::make_pair(rule_id, device_id)];
  if (!s.last_fired || *s.last_fired < at) s.last_fired = at;
}

void RuleEvaluator::restore_window(std::int64_t rule_id, std::int64_t device_id,
                                   util::TimePoint since, double value) {
  State& s = state_[std::make_pair(rule_id, device_id)];
  if (s.firing) return;
  s.holding = true;
  s.holding_since = since;
  s.last_value = value;
  s.window_stored = true;
}

void RuleEvaluator::forget_device(std::int64_t device_id) {
  std::erase_if(state_, [device_id](const auto& kv) { return kv.first.second == device_id; });
}

}  // namespace valtronics::engine
