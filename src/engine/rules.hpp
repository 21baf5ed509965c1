// Alert rule evaluation, pure: readings in arrival order (and clock ticks) in, fire/resolve
// decisions out. No database, no I/O: the engine owns persistence and publishing.
//
// Semantics (documented in docs/alerts.md):
//  - A rule applies to a reading when enabled, its metric matches, and its device_id (if any)
//    equals the reading's device, or its device_type (if any) equals the device's type.
//  - The condition (value <op> threshold) must hold continuously for `duration` (0: at once)
//    before the rule fires; it fires once per episode, not once per reading.
//  - Hysteresis: a firing rule resolves only when the value is back past the threshold by the
//    rule's hysteresis margin (default: 1% of |threshold|, at least 0.01; 0 for eq/ne), so a
//    value wobbling on the threshold does not flap.
//  - Cooldown: after an alert of (rule, device) was raised, no new one is raised for `cooldown`
//    (the episode may still resolve). A condition that still holds when the cooldown ends fires.
//  - A duration window in progress (the condition holding, not yet for `duration`) is reported
//    as a WindowChange when it opens and when it ends without an alert or with one, so that the
//    engine keeps it in the database: a restarted node, or one taking the device over, resumes
//    it (restore_window) instead of starting the duration again.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/alert.hpp"
#include "model/enums.hpp"

namespace valtronics::engine {

// Does `value` satisfy `rule`'s condition?
bool condition_holds(const model::AlertRule& rule, double value);
// Has `value` moved back past the threshold by the hysteresis margin (the episode is over)?
bool condition_cleared(const model::AlertRule& rule, double value);
double hysteresis_margin(const model::AlertRule& rule);

struct RuleDecision {
  enum class Kind { fire, resolve };
  Kind kind;
  model::AlertRule rule;   // a copy: the rule set may change before the decision is used
  std::int64_t device_id;
  double value;            // the reading that decided
  util::TimePoint at;
};

// A duration window opened (`since` set: the condition holds since then, `value` the reading
// that opened it) or ended (`since` empty: it fired, the condition stopped holding, or the rule
// changed).
struct WindowChange {
  std::int64_t rule_id, device_id;
  std::optional<util::TimePoint> since;
  double value = 0;
};

class RuleEvaluator {
 public:
  // Replaces the rule set. Evaluation state of rules whose id is kept survives (so editing a
  // rule's name does not re-fire it); state of removed rules is dropped, and a rule whose
  // condition, threshold, metric or scope changed starts afresh (its open episode resolves:
  // a resolve decision is returned for each firing (rule, device) whose rule changed or vanished).
  std::vector<RuleDecision> set_rules(std::vector<model::AlertRule> rules, util::TimePoint now);

  // Evaluates one reading of `device_id` (whose type is `device_type`).
  std::vector<RuleDecision> on_reading(std::int64_t device_id, model::DeviceType device_type,
                                       std::string_view metric, double value, util::TimePoint at);

  // Fires conditions that have held for their duration without a newer reading. Call about once
  // a second.
  std::vector<RuleDecision> tick(util::TimePoint now);

  // Restores "firing" state for an alert that is still open after a restart, so that it is not
  // raised again and resolves when the condition clears.
  void restore_firing(std::int64_t rule_id, std::int64_t device_id, util::TimePoint raised_at);

  // (cluster) Restores when (rule, device) last fired, from the stored alerts, so that a node
  // taking a device over keeps its cooldown.
  void restore_last_fired(std::int64_t rule_id, std::int64_t device_id, util::TimePoint at);

  // Restores a duration window in progress (from the database): the condition holds since
  // `since`, as `value` showed; it fires once held for the rule's duration, from tick() or the
  // next reading that holds. Ignored when (rule, device) is already firing.
  void restore_window(std::int64_t rule_id, std::int64_t device_id, util::TimePoint since,
                      double value);

  // The windows opened and ended since the last call, in order (see WindowChange).
  std::vector<WindowChange> take_window_changes() { return std::exchange(window_changes_, {}); }

  // Forgets every state of `device_id` (device deleted, or no longer owned here); reports no
  // window change (what is stored stays for the next owner).
  void forget_device(std::int64_t device_id);

  const std::vector<model::AlertRule>& rules() const { return rules_; }

 private:
  struct State {
    bool holding = false;               // condition currently true
    util::TimePoint holding_since{};
    bool firing = false;                // an alert is open for this episode
    std::optional<util::TimePoint> last_fired;
    double last_value = 0;
    bool window_stored = false;         // a WindowChange opened it: its end is reported too
  };
  // A window of `s` ends: reported if its opening was.
  void end_window(std::pair<std::int64_t, std::int64_t> key, State& s);
  std::vector<model::AlertRule> rules_;
  std::vector<WindowChange> window_changes_;
  std::map<std::pair<std::int64_t, std::int64_t>, State> state_;  // (rule id, device id)
};

}  // namespace valtronics::engine
