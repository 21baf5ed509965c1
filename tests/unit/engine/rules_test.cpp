// Tests of alert rule evaluation: every condition and its hysteresis, one fire per episode,
// duration (continuous holding, reset by a dip, fired by tick), cooldown, scoping, disabled rules,
// rule set replacement, restore after restart and forgetting a device.
#include "engine/rules.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace valtronics::engine {
namespace {

using namespace std::chrono_literals;
using Kind = RuleDecision::Kind;
using model::AlertRule;
using model::Condition;
using model::DeviceType;

const util::TimePoint T0 = util::TimePoint{} + 1'704'110'400s;  // 2024-01-01T12:00:00Z

AlertRule rule(std::int64_t id, Condition c, double threshold, std::string metric = "temperature") {
  AlertRule r;
  r.id = id;
  r.name = "rule " + std::to_string(id);
  r.metric = std::move(metric);
  r.condition = c;
  r.threshold = threshold;
  return r;
}

class RuleEval : public ::testing::Test {
 protected:
  RuleEvaluator ev;
  util::TimePoint now = T0;

  void set(std::vector<AlertRule> rules) { EXPECT_TRUE(ev.set_rules(std::move(rules), now).empty()); }

  // Feeds one reading of device 1 (a sensor) one second after the previous one.
  std::vector<RuleDecision> feed(double v, std::int64_t device = 1,
                                 DeviceType type = DeviceType::sensor,
                                 std::string_view metric = "temperature") {
    now += 1s;
    return ev.on_reading(device, type, metric, v, now);
  }
  // Kinds of the decisions of feeding `values` one by one, as a string: "F" fire, "R" resolve,
  // "." nothing.
  std::string trace(std::initializer_list<double> values) {
    std::string out;
    for (double v : values) {
      auto d = feed(v);
      if (d.empty()) out += '.';
      for (auto& x : d) out += x.kind == Kind::fire ? 'F' : 'R';
    }
    return out;
  }
};

// --- pure predicates --------------------------------------------------------------------------

TEST(RuleCondition, HoldsForEveryCondition) {
  EXPECT_TRUE(condition_holds(rule(1, Condition::gt, 10), 10.5));
  EXPECT_FALSE(condition_holds(rule(1, Condition::gt, 10), 10));
  EXPECT_FALSE(condition_holds(rule(1, Condition::gt, 10), 9));
  EXPECT_TRUE(condition_holds(rule(1, Condition::gte, 10), 10));
  EXPECT_TRUE(condition_holds(rule(1, Condition::gte, 10), 11));
  EXPECT_FALSE(condition_holds(rule(1, Condition::gte, 10), 9.99));
  EXPECT_TRUE(condition_holds(rule(1, Condition::lt, 10), 9.99));
  EXPECT_FALSE(condition_holds(rule(1, Condition::lt, 10), 10));
  EXPECT_TRUE(condition_holds(rule(1, Condition::lte, 10), 10));
  EXPECT_FALSE(condition_holds(rule(1, Condition::lte, 10), 10.01));
  EXPECT_TRUE(condition_holds(rule(1, Condition::eq, 0), 0));
  EXPECT_FALSE(condition_holds(rule(1, Condition::eq, 0), 0.001));
  EXPECT_TRUE(condition_holds(rule(1, Condition::ne, 1), 0));
  EXPECT_FALSE(condition_holds(rule(1, Condition::ne, 1), 1));
  EXPECT_TRUE(condition_holds(rule(1, Condition::lt, -5), -6));
}

TEST(RuleCondition, HysteresisMargin) {
  EXPECT_DOUBLE_EQ(hysteresis_margin(rule(1, Condition::gt, 100)), 1.0);
  EXPECT_DOUBLE_EQ(hysteresis_margin(rule(1, Condition::lt, -200)), 2.0);
  EXPECT_DOUBLE_EQ(hysteresis_margin(rule(1, Condition::gte, 0)), 0.01);
  EXPECT_DOUBLE_EQ(hysteresis_margin(rule(1, Condition::lte, 0.5)), 0.01);
  EXPECT_DOUBLE_EQ(hysteresis_margin(rule(1, Condition::eq, 100)), 0.0);
  EXPECT_DOUBLE_EQ(hysteresis_margin(rule(1, Condition::ne, 100)), 0.0);
}

TEST(RuleCondition, ClearedNeedsTheMargin) {
  auto gt = rule(1, Condition::gt, 100);  // margin 1
  EXPECT_FALSE(condition_cleared(gt, 100.5));
  EXPECT_FALSE(condition_cleared(gt, 100));
  EXPECT_FALSE(condition_cleared(gt, 99.5));
  EXPECT_TRUE(condition_cleared(gt, 99));
  EXPECT_TRUE(condition_cleared(gt, 50));
  auto gte = rule(1, Condition::gte, 100);
  EXPECT_FALSE(condition_cleared(gte, 99.5));
  EXPECT_FALSE(condition_cleared(gte, 99));
  EXPECT_TRUE(condition_cleared(gte, 98.9));
  auto lt = rule(1, Condition::lt, 100);
  EXPECT_FALSE(condition_cleared(lt, 100.5));
  EXPECT_TRUE(condition_cleared(lt, 101));
  auto lte = rule(1, Condition::lte, 100);
  EXPECT_FALSE(condition_cleared(lte, 101));
  EXPECT_TRUE(condition_cleared(lte, 101.1));
  auto eq = rule(1, Condition::eq, 3);
  EXPECT_FALSE(condition_cleared(eq, 3));
  EXPECT_TRUE(condition_cleared(eq, 3.0001));
  auto ne = rule(1, Condition::ne, 3);
  EXPECT_FALSE(condition_cleared(ne, 4));
  EXPECT_TRUE(condition_cleared(ne, 3));
}

// --- episodes ---------------------------------------------------------------------------------

TEST_F(RuleEval, FiresOncePerEpisode) {
  set({rule(1, Condition::gt, 30)});
  EXPECT_EQ(trace({20, 31, 32, 35, 40, 33, 31}), ".F.....");
}

TEST_F(RuleEval, FireDecisionCarriesRuleDeviceValueAndTime) {
  set({rule(7, Condition::gt, 30)});
  auto d = feed(31.5, 42);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::fire);
  EXPECT_EQ(d[0].rule.id, 7);
  EXPECT_EQ(d[0].rule.name, "rule 7");
  EXPECT_EQ(d[0].device_id, 42);
  EXPECT_DOUBLE_EQ(d[0].value, 31.5);
  EXPECT_EQ(d[0].at, now);
}

TEST_F(RuleEval, ResolveDecisionCarriesTheClearingReading) {
  set({rule(7, Condition::gt, 30)});
  feed(31);
  auto d = feed(10);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::resolve);
  EXPECT_EQ(d[0].rule.id, 7);
  EXPECT_EQ(d[0].device_id, 1);
  EXPECT_DOUBLE_EQ(d[0].value, 10);
  EXPECT_EQ(d[0].at, now);
}

TEST_F(RuleEval, GtHysteresis) {
  set({rule(1, Condition::gt, 100)});  // margin 1
  // fires, 99.5 (threshold - margin/2) keeps firing, 100.5 too, 99 (threshold - margin) resolves,
  // then a new episode fires again.
  EXPECT_EQ(trace({101, 99.5, 100.5, 99.5, 100, 99, 98, 101}), "F....R.F");
}

TEST_F(RuleEval, GteHysteresis) {
  set({rule(1, Condition::gte, 100)});
  EXPECT_EQ(trace({100, 99.5, 100, 99.5, 98.9, 99.5, 100}), "F...R.F");
}

TEST_F(RuleEval, LtHysteresis) {
  set({rule(1, Condition::lt, 100)});
  EXPECT_EQ(trace({99, 100.5, 99.9, 100.5, 101, 100.2, 99}), "F...R.F");
}

TEST_F(RuleEval, LteHysteresis) {
  set({rule(1, Condition::lte, 100)});
  EXPECT_EQ(trace({100, 100.5, 101, 100.5, 101.5, 100.5, 99}), "F...R.F");
}

TEST_F(RuleEval, EqHasNoHysteresis) {
  set({rule(1, Condition::eq, 0)});
  EXPECT_EQ(trace({1, 0, 0, 0, 0.001, 0, 1, 1}), ".F..RFR.");
}

TEST_F(RuleEval, NeHasNoHysteresis) {
  set({rule(1, Condition::ne, 1)});
  EXPECT_EQ(trace({1, 0, 2, 3, 1, 1, 5}), ".F..R.F");
}

TEST_F(RuleEval, SmallThresholdUsesMinimumMargin) {
  set({rule(1, Condition::gt, 0)});  // margin 0.01
  EXPECT_EQ(trace({0.5, -0.005, 0, -0.01, 0.001}), "F..RF");
}

TEST_F(RuleEval, NegativeThreshold) {
  set({rule(1, Condition::lt, -10)});  // margin 0.1
  EXPECT_EQ(trace({-11, -9.95, -10.5, -9.85, -10.05}), "F..RF");
}

TEST_F(RuleEval, WobbleOnThresholdDoesNotFlap) {
  set({rule(1, Condition::gt, 50)});
  std::string t = trace({50.1, 49.8, 50.2, 49.7, 50.05, 49.9, 50.3, 49.6, 50.1});
  EXPECT_EQ(t, "F........");
}

// --- duration ---------------------------------------------------------------------------------

TEST_F(RuleEval, DurationNeedsContinuousHolding) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 5s;
  set({r});
  // one reading per second: holding since the first 31, fires when 5s have passed
  EXPECT_EQ(trace({31, 31, 31, 31, 31, 31, 31}), ".....F.");
}

TEST_F(RuleEval, DurationResetByADip) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 3s;
  set({r});
  // a dip below the threshold (even within the margin) restarts the count
  EXPECT_EQ(trace({31, 31, 29.9, 31, 31, 31, 31}), "......F");
}

TEST_F(RuleEval, DurationFiredByTickWithoutNewReadings) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 10s;
  set({r});
  EXPECT_TRUE(feed(35).empty());
  const auto start = now;
  EXPECT_TRUE(ev.tick(start + 5s).empty());
  EXPECT_TRUE(ev.tick(start + 9999ms).empty());
  auto d = ev.tick(start + 10s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::fire);
  EXPECT_DOUBLE_EQ(d[0].value, 35);
  EXPECT_EQ(d[0].device_id, 1);
  EXPECT_EQ(d[0].at, start + 10s);
  EXPECT_TRUE(ev.tick(start + 11s).empty());  // once
  now = start + 12s;
  EXPECT_TRUE(feed(36).empty());  // still firing
}

TEST_F(RuleEval, TickDoesNotFireAfterTheConditionStopped) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 10s;
  set({r});
  feed(35);
  feed(20);
  EXPECT_TRUE(ev.tick(now + 60s).empty());
}

TEST_F(RuleEval, TickWithoutDurationFiresNothingNew) {
  set({rule(1, Condition::gt, 30)});
  EXPECT_EQ(feed(35).size(), 1u);
  EXPECT_TRUE(ev.tick(now + 1h).empty());
}

TEST_F(RuleEval, DurationEpisodeResolvesAndRestarts) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 2s;
  set({r});
  EXPECT_EQ(trace({31, 31, 31, 10, 31, 31, 31}), "..FR..F");
}

// --- cooldown ---------------------------------------------------------------------------------

TEST_F(RuleEval, SecondEpisodeInsideCooldownDoesNotFire) {
  auto r = rule(1, Condition::gt, 30);
  r.cooldown = 60s;
  set({r});
  EXPECT_EQ(trace({31, 10, 31, 10, 31}), "FR...");
}

TEST_F(RuleEval, CooldownEndsAndAReadingFires) {
  auto r = rule(1, Condition::gt, 30);
  r.cooldown = 10s;
  set({r});
  const auto fired_at = now + 1s;
  EXPECT_EQ(trace({31, 10, 31}), "FR.");
  now = fired_at + 9s;  // next reading at fired_at + 10s: cooldown over, still holding
  auto d = feed(32);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::fire);
  EXPECT_DOUBLE_EQ(d[0].value, 32);
}

TEST_F(RuleEval, CooldownEndsAndTickFiresIfStillHolding) {
  auto r = rule(1, Condition::gt, 30);
  r.cooldown = 30s;
  set({r});
  const auto fired_at = now + 1s;
  EXPECT_EQ(trace({31, 10, 33}), "FR.");
  EXPECT_TRUE(ev.tick(fired_at + 29s).empty());
  auto d = ev.tick(fired_at + 30s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::fire);
  EXPECT_DOUBLE_EQ(d[0].value, 33);
  EXPECT_TRUE(ev.tick(fired_at + 31s).empty());
}

TEST_F(RuleEval, CooldownEndsButConditionGoneDoesNotFire) {
  auto r = rule(1, Condition::gt, 30);
  r.cooldown = 30s;
  set({r});
  EXPECT_EQ(trace({31, 10, 33, 10}), "FR..");
  EXPECT_TRUE(ev.tick(now + 1h).empty());
}

TEST_F(RuleEval, EpisodeResolvesDuringCooldown) {
  auto r = rule(1, Condition::gt, 30);
  r.cooldown = 1h;
  set({r});
  EXPECT_EQ(trace({31, 32, 10}), "F.R");
}

TEST_F(RuleEval, CooldownAndDurationTogether) {
  auto r = rule(1, Condition::gt, 30);
  r.cooldown = 10s;
  r.duration = 2s;
  set({r});
  const auto t = now;
  EXPECT_EQ(trace({31, 31, 31, 10, 31}), "..FR.");  // fired at t+3s
  // holding since t+5s; duration satisfied at t+7s but cooldown runs to t+13s
  EXPECT_TRUE(ev.tick(t + 8s).empty());
  EXPECT_TRUE(ev.tick(t + 12s).empty());
  EXPECT_EQ(ev.tick(t + 13s).size(), 1u);
}

// --- scoping ----------------------------------------------------------------------------------

TEST_F(RuleEval, DeviceIdScope) {
  auto r = rule(1, Condition::gt, 30);
  r.device_id = 5;
  set({r});
  EXPECT_TRUE(feed(50, 1).empty());
  auto d = feed(50, 5);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].device_id, 5);
}

TEST_F(RuleEval, DeviceTypeScope) {
  auto r = rule(1, Condition::gt, 30);
  r.device_type = DeviceType::gateway;
  set({r});
  EXPECT_TRUE(feed(50, 1, DeviceType::sensor).empty());
  EXPECT_EQ(feed(50, 2, DeviceType::gateway).size(), 1u);
  EXPECT_EQ(feed(50, 3, DeviceType::gateway).size(), 1u);
}

TEST_F(RuleEval, GlobalRuleAppliesToEveryDeviceSeparately) {
  set({rule(1, Condition::gt, 30)});
  EXPECT_EQ(feed(50, 1, DeviceType::sensor).size(), 1u);
  EXPECT_EQ(feed(50, 2, DeviceType::monitor).size(), 1u);
  EXPECT_TRUE(feed(51, 1, DeviceType::sensor).empty());
  auto d = feed(10, 2, DeviceType::monitor);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::resolve);
  EXPECT_EQ(d[0].device_id, 2);
  EXPECT_TRUE(feed(51, 1, DeviceType::sensor).empty());  // device 1 still firing
}

TEST_F(RuleEval, MetricMustMatch) {
  set({rule(1, Condition::gt, 30, "humidity")});
  EXPECT_TRUE(feed(50, 1, DeviceType::sensor, "temperature").empty());
  EXPECT_EQ(feed(50, 1, DeviceType::sensor, "humidity").size(), 1u);
}

TEST_F(RuleEval, SeveralRulesOnOneReadingInRuleOrder) {
  auto warn = rule(1, Condition::gt, 30);
  auto crit = rule(2, Condition::gt, 40);
  set({warn, crit});
  auto d = feed(45);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].rule.id, 1);
  EXPECT_EQ(d[1].rule.id, 2);
  d = feed(35);  // crit resolves (35 <= 40 - 0.4), warn keeps firing
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].rule.id, 2);
  EXPECT_EQ(d[0].kind, Kind::resolve);
}

TEST_F(RuleEval, DisabledRuleIsNotEvaluated) {
  auto r = rule(1, Condition::gt, 30);
  r.enabled = false;
  set({r});
  EXPECT_TRUE(feed(50).empty());
  EXPECT_TRUE(ev.tick(now + 1h).empty());
}

// --- rule set changes -------------------------------------------------------------------------

TEST_F(RuleEval, SetRulesKeepsStateOfUnchangedRules) {
  auto r = rule(1, Condition::gt, 30);
  set({r});
  EXPECT_EQ(feed(50).size(), 1u);
  r.name = "renamed";
  r.severity = model::Severity::critical;
  r.cooldown = 10min;
  set({r});                     // no resolve
  EXPECT_TRUE(feed(51).empty());  // no re-fire
  auto d = feed(10);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::resolve);
  EXPECT_EQ(d[0].rule.name, "renamed");
  EXPECT_EQ(ev.rules().size(), 1u);
}

TEST_F(RuleEval, SetRulesKeepsPendingDuration) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 3s;
  set({r});
  EXPECT_EQ(trace({31, 31}), "..");
  r.name = "x";
  set({r});
  EXPECT_EQ(trace({31, 31}), ".F");
}

TEST_F(RuleEval, ChangedThresholdResolvesOpenEpisodeAndStartsAfresh) {
  auto r = rule(1, Condition::gt, 30);
  set({r});
  feed(50, 1);
  feed(50, 2);
  r.threshold = 40;
  auto d = ev.set_rules({r}, now);
  ASSERT_EQ(d.size(), 2u);
  for (auto& x : d) {
    EXPECT_EQ(x.kind, Kind::resolve);
    EXPECT_EQ(x.rule.id, 1);
    EXPECT_DOUBLE_EQ(x.rule.threshold, 30);  // the rule the alert was raised under
    EXPECT_DOUBLE_EQ(x.value, 50);
    EXPECT_EQ(x.at, now);
  }
  EXPECT_EQ(d[0].device_id, 1);
  EXPECT_EQ(d[1].device_id, 2);
  auto f = feed(50, 1);  // holds under the new rule: a new episode
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, Kind::fire);
  EXPECT_DOUBLE_EQ(f[0].rule.threshold, 40);
}

TEST_F(RuleEval, ChangedConditionMetricOrScopeStartsAfresh) {
  auto base = rule(1, Condition::gt, 30);
  std::vector<AlertRule> variants;
  { auto r = base; r.condition = Condition::gte; variants.push_back(r); }
  { auto r = base; r.metric = "humidity"; variants.push_back(r); }
  { auto r = base; r.device_id = 1; variants.push_back(r); }
  { auto r = base; r.device_type = DeviceType::sensor; variants.push_back(r); }
  for (const auto& v : variants) {
    RuleEvaluator e;
    e.set_rules({base}, T0);
    ASSERT_EQ(e.on_reading(1, DeviceType::sensor, "temperature", 50, T0).size(), 1u);
    auto d = e.set_rules({v}, T0 + 1s);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].kind, Kind::resolve);
  }
}

TEST_F(RuleEval, ChangedRuleWithoutOpenEpisodeReturnsNothingAndLosesCooldown) {
  auto r = rule(1, Condition::gt, 30);
  r.cooldown = 1h;
  set({r});
  EXPECT_EQ(trace({50, 10}), "FR");
  r.threshold = 31;
  set({r});  // nothing open: no decision; state dropped
  EXPECT_EQ(trace({50}), "F");
}

TEST_F(RuleEval, RemovedRuleResolvesOpenEpisodes) {
  set({rule(1, Condition::gt, 30), rule(2, Condition::lt, 0)});
  feed(50);
  auto d = ev.set_rules({rule(2, Condition::lt, 0)}, now);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::resolve);
  EXPECT_EQ(d[0].rule.id, 1);
  EXPECT_TRUE(feed(50).empty());
  EXPECT_TRUE(ev.set_rules({}, now).empty());
}

TEST_F(RuleEval, DisablingARuleResolvesItsOpenEpisode) {
  auto r = rule(1, Condition::gt, 30);
  set({r});
  feed(50);
  r.enabled = false;
  auto d = ev.set_rules({r}, now);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::resolve);
  r.enabled = true;
  set({r});
  EXPECT_EQ(feed(50).size(), 1u);  // a fresh episode
}

TEST_F(RuleEval, AddedRuleStartsFromNothing) {
  set({rule(1, Condition::gt, 30)});
  feed(50);
  auto d = ev.set_rules({rule(1, Condition::gt, 30), rule(2, Condition::gt, 40)}, now);
  EXPECT_TRUE(d.empty());
  auto f = feed(50);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].rule.id, 2);
}

// --- restart and devices ----------------------------------------------------------------------

TEST_F(RuleEval, RestoreFiringPreventsRefireAndResolvesLater) {
  set({rule(1, Condition::gt, 30)});
  ev.restore_firing(1, 9, now - 10min);
  EXPECT_TRUE(feed(50, 9).empty());
  EXPECT_TRUE(feed(30, 9).empty());  // within the margin
  auto d = feed(20, 9);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::resolve);
  EXPECT_EQ(d[0].device_id, 9);
  EXPECT_EQ(feed(50, 9).size(), 1u);
}

TEST_F(RuleEval, RestoreFiringKeepsCooldownFromRaisedAt) {
  auto r = rule(1, Condition::gt, 30);
  r.cooldown = 1h;
  set({r});
  const auto raised = now - 10min;
  ev.restore_firing(1, 9, raised);
  EXPECT_EQ(feed(10, 9).size(), 1u);  // resolves
  EXPECT_TRUE(feed(50, 9).empty());    // cooldown runs until raised + 1h
  EXPECT_EQ(ev.tick(raised + 1h).size(), 1u);
}

TEST_F(RuleEval, RestoreFiringBeforeSetRulesSurvivesTheFirstSet) {
  ev.restore_firing(1, 9, T0);
  EXPECT_TRUE(ev.set_rules({rule(1, Condition::gt, 30)}, T0).empty());
  EXPECT_TRUE(feed(50, 9).empty());
  EXPECT_EQ(feed(0, 9).size(), 1u);
}

TEST_F(RuleEval, RestoreFiringForAVanishedRuleResolvesOnSetRules) {
  ev.restore_firing(3, 9, T0);
  auto d = ev.set_rules({rule(1, Condition::gt, 30)}, T0);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].kind, Kind::resolve);
  EXPECT_EQ(d[0].rule.id, 3);
  EXPECT_EQ(d[0].device_id, 9);
}

TEST_F(RuleEval, ForgetDeviceDropsItsState) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 5s;
  set({r});
  feed(50, 1);
  feed(50, 2);
  ev.forget_device(1);
  auto d = ev.tick(now + 10s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].device_id, 2);
  // Device 1 (a new device reusing the id) starts a fresh episode.
  EXPECT_TRUE(ev.on_reading(1, DeviceType::sensor, "temperature", 50, now + 11s).empty());
  EXPECT_EQ(ev.on_reading(1, DeviceType::sensor, "temperature", 50, now + 16s).size(), 1u);
}

TEST_F(RuleEval, ForgetDeviceMeansNoResolveForIt) {
  set({rule(1, Condition::gt, 30)});
  feed(50, 1);
  ev.forget_device(1);
  EXPECT_TRUE(ev.set_rules({}, now).empty());
}

// --- duration windows kept in the database (WindowChange, restore_window) -----------------------

TEST_F(RuleEval, AWindowIsReportedWhenItOpensAndWhenItFires) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 3s;
  set({r});
  EXPECT_EQ(trace({31, 32}), "..");
  auto opened = ev.take_window_changes();
  ASSERT_EQ(opened.size(), 1u) << "one window, reported once";
  EXPECT_EQ(opened[0].rule_id, 1);
  EXPECT_EQ(opened[0].device_id, 1);
  EXPECT_EQ(opened[0].since, T0 + 1s);
  EXPECT_DOUBLE_EQ(opened[0].value, 31);
  EXPECT_EQ(trace({33, 34}), ".F");
  auto ended = ev.take_window_changes();
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_FALSE(ended[0].since) << "fired: the alert is the state now";
  EXPECT_TRUE(ev.take_window_changes().empty());
}

TEST_F(RuleEval, AWindowEndsWithADipOrARuleChangeAndNoneOpensWithoutDuration) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 3s;
  set({r});
  feed(31);
  feed(20);  // a dip: the window ends
  auto changes = ev.take_window_changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_TRUE(changes[0].since);
  EXPECT_FALSE(changes[1].since);
  feed(31);
  ASSERT_EQ(ev.take_window_changes().size(), 1u);
  auto changed = r;
  changed.threshold = 40;
  EXPECT_TRUE(ev.set_rules({changed}, now).empty());
  changes = ev.take_window_changes();
  ASSERT_EQ(changes.size(), 1u) << "the changed rule's window is dropped";
  EXPECT_FALSE(changes[0].since);
  // A rule without a duration fires at once: nothing to keep.
  set({rule(2, Condition::gt, 30)});
  EXPECT_EQ(trace({31}), "F");
  EXPECT_TRUE(ev.take_window_changes().empty());
}

TEST_F(RuleEval, ARestoredWindowFiresAtItsOwnStartPlusTheDuration) {
  // The window opened 8 s before a restart (or a failover): with a 10 s duration, the new
  // evaluator fires 2 s later without a new reading, with the value that opened it.
  auto r = rule(1, Condition::gt, 30);
  r.duration = 10s;
  set({r});
  ev.restore_window(1, 4, now - 8s, 35);
  EXPECT_TRUE(ev.tick(now + 1s).empty());
  auto d = ev.tick(now + 2s);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].device_id, 4);
  EXPECT_DOUBLE_EQ(d[0].value, 35);
  auto changes = ev.take_window_changes();
  ASSERT_EQ(changes.size(), 1u) << "the restored window's end is reported (its row deleted)";
  EXPECT_FALSE(changes[0].since);
}

TEST_F(RuleEval, ARestoredWindowEndsWithADipAndIsIgnoredWhileFiring) {
  auto r = rule(1, Condition::gt, 30);
  r.duration = 10s;
  set({r});
  ev.restore_window(1, 4, now - 8s, 35);
  EXPECT_TRUE(feed(20, 4).empty());
  ASSERT_EQ(ev.take_window_changes().size(), 1u);
  EXPECT_TRUE(ev.tick(now + 5s).empty()) << "the dip ended it";
  // An open alert restored for (rule, device) wins over a stale window row.
  ev.restore_firing(1, 5, now - 1min);
  ev.restore_window(1, 5, now - 20s, 35);
  EXPECT_TRUE(ev.tick(now + 1min).empty());
  EXPECT_TRUE(ev.take_window_changes().empty());
}

}  // namespace
}  // namespace valtronics::engine
