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
    if (plan.aggregate) {
      Fold& f = th.folds[r.name];
      f.min = f.count ? std::min(f.min, r.value) : r.value;
      f.max = f.count ? std::max(f.max, r.value) : r.value;
      f.sum += r.value;
      ++f.count;
    }
    any = true;
  }
  th.frequency = plan.frequency;
  if (th.aggregate != plan.aggregate) {
    if (!plan.aggregate) th.folds.clear();
    th.aggregate = plan.aggregate;
  }
  return any && now >= th.next_due;
}

Throttles::Window Throttles::drain(Throttle& th) {
  Window w;
  w.aggregate = th.aggregate;
  w.frequency = th.frequency;
  w.readings.reserve(th.pending.size());
  for (auto& [name, r] : th.pending) {
    if (th.aggregate) {
      const Fold f = th.folds[name];  // a reading held before the aggregate was asked for: 0
      switch (*th.aggregate) {
        case protocol::Aggregate::avg: r.value = f.count ? f.sum / double(f.count) : r.value; break;
        case protocol::Aggregate::min: r.value = f.count ? f.min : r.value; break;
        case protocol::Aggregate::max: r.value = f.count ? f.max : r.value; break;
        case protocol::Aggregate::count: r.value = double(f.count); break;
      }
      w.counts.push_back(f.count);
    }
    w.readings.push_back(std::move(r));
  }
  th.pending.clear();
  th.folds.clear();
  return w;
}

Throttles::Window Throttles::take(std::int64_t device, SteadyTime now) {
  auto& th = by_device_[device];
  th.next_due = now + th.frequency;
  return drain(th);
}

std::vector<std::pair<std::int64_t, Throttles::Window>> Throttles::take_due(SteadyTime now) {
  std::vector<std::pair<std::int64_t, Window>> out;
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
    auto& th = it->second;
    auto unwanted = [&](const auto& kv) {
      return !std::binary_search(plan.metrics.begin(), plan.metrics.end(), kv.first);
    };
    if (!plan.metrics.empty()) {
      std::erase_if(th.pending, unwanted);
      std::erase_if(th.folds, unwanted);
    }
    th.frequency = plan.frequency;
    if (th.aggregate != plan.aggregate) {  // a window of another kind starts now
      th.folds.clear();
      th.aggregate = plan.aggregate;
      if (th.aggregate) {
        for (const auto& [name, r] : th.pending) {
          Fold& f = th.folds[name];
          f = Fold{1, r.value, r.value, r.value};
        }
      }
    }
    ++it;
  }
}

}  // namespace valtronics::session
