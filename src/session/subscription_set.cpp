// Matching events against a connection's subscriptions.
#include "session/subscription_set.hpp"

#include <algorithm>
#include <variant>

#include "model/enum_names.hpp"

namespace valtronics::session {

namespace {

bool accepts(const protocol::Filters& f, const model::EventBody& body) {
  if (const auto* a = std::get_if<model::AlertEvent>(&body))
    return model::empty_or_contains(f.severities, a->severity) &&
           model::empty_or_contains(f.alert_types, a->alert_type);
  if (const auto* s = std::get_if<model::DeviceStatusEvent>(&body))
    return model::empty_or_contains(f.status_types, s->new_status);
  return true;
}

}  // namespace

const protocol::Filters* match_event(const Subscriptions& subs, const hub::Event& event) {
  const protocol::Filters* match = nullptr;
  for_each_concerning(subs, event.channel, model::device_of(event.body),
                      [&](const SubKey&, const protocol::Filters& f) {
                        if (accepts(f, event.body)) match = &f;
                        return match == nullptr;
                      });
  return match;
}

TelemetryPlan telemetry_plan(const Subscriptions& subs, std::int64_t device) {
  TelemetryPlan plan;
  bool all_metrics = false;
  for_each_concerning(subs, model::Channel::telemetry, device,
                      [&](const SubKey&, const protocol::Filters& f) {
    plan.matched = true;
    if (f.metrics.empty()) all_metrics = true;
    else plan.metrics.insert(plan.metrics.end(), f.metrics.begin(), f.metrics.end());
    if (f.frequency.count() == 0) {
      plan.realtime = true;
    } else if (f.frequency < plan.frequency) {
      plan.frequency = f.frequency;
      plan.aggregate = f.aggregate;
    }
    plan.gated = plan.gated || f.gates_values();
    plan.watched = plan.watched || f.stale_after.has_value();
    return true;
  });
  if (all_metrics) {
    plan.metrics.clear();
  } else {
    std::sort(plan.metrics.begin(), plan.metrics.end());
    plan.metrics.erase(std::unique(plan.metrics.begin(), plan.metrics.end()), plan.metrics.end());
  }
  return plan;
}

std::string projection_key(char kind, std::span<const std::string> metrics) {
  std::string key(1, kind);
  for (const auto& m : metrics) key += "," + m;
  return key;
}

}  // namespace valtronics::session
