// Throttled telemetry: hold the latest values, release them per slot.
#include "session/throttle.hpp"

#include <algorithm>

namespace valtronics::session {

bool Throttles::hold(std::int64_t device, std::span<const model::MetricReading> readings,
                     const TelemetryPlan& plan, SteadyTime now) {
  auto& th = by_device_[device];
  bool any = false;
  for (const auto& r : readings) {
    if (!plan.metrics.empty() &&
        !std::binary_search(plan.metrics.begin(), plan.metrics.end(), r.name))
      continue;
    th.pending.insert_or_assign(r.name, r);
    any = true;
  }
  th.frequency = plan.frequency;
  return any && now >= th.next_due;
}

std::vector<model::MetricReading> Throttles::drain(Throttle& th) {
  std::vector<model::MetricReading> latest;
  latest.reserve(th.pending.size());
  for (auto& [name, r] : th.pending) latest.push_back(std::move(r));
  th.pending.clear();
  return latest;
}

std::vector<model::MetricReading> Throttles::take(std::int64_t device, SteadyTime now) {
  auto& th = by_device_[device];
  th.next_due = now + th.frequency;
  return drain(th);
}

std::vector<std::pair<std::int64_t, std::vector<model::MetricReading>>> Throttles::take_due(
    SteadyTime now) {
  std::vector<std::pair<std::int64_t, std::vector<model::MetricReading>>> out;
  for (auto& [device, th] : by_device_) {
    if (th.pending.empty() || now < th.next_due) continue;
    th.next_due += th.frequency;
    if (th.next_due < now) th.next_due = now + th.frequency;
    out.emplace_back(device, drain(th));
  }
  return out;
}

SteadyTime Throttles::next_due() const {
  auto earliest = SteadyTime::max();
  for (const auto& [d, th] : by_device_)
    if (!th.pending.empty()) earliest = std::min(earliest, th.next_due);
  return earliest;
}

void Throttles::prune(const Subscriptions& subs,
                      const std::function<bool(std::int64_t)>& visible) {
  for (auto it = by_device_.begin(); it != by_device_.end();) {
    const auto plan = telemetry_plan(subs, it->first);
    if (!plan.matched || plan.realtime || !visible(it->first)) {
      it = by_device_.erase(it);
      continue;
    }
    auto& pending = it->second.pending;
    if (!plan.metrics.empty())
      std::erase_if(pending, [&](const auto& kv) {
        return !std::binary_search(plan.metrics.begin(), plan.metrics.end(), kv.first);
      });
    it->second.frequency = plan.frequency;
    ++it;
  }
}

}  // namespace valtronics::session
