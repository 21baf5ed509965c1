// stale_after clocks: restarted by readings, reported once when they run out.
#include "session/stale_watch.hpp"

#include <algorithm>

namespace valtronics::session {

template <class Fn>
void StaleWatch::for_each_wanted(const Subscriptions& subs, std::int64_t device, Fn fn) {
  for_each_concerning(subs, model::Channel::telemetry, device,
                      [&](const SubKey&, const protocol::Filters& f) {
    if (!f.stale_after) return true;
    if (f.metrics.empty()) fn(Key{device, std::string()}, *f.stale_after);
    for (const auto& m : f.metrics) fn(Key{device, m}, *f.stale_after);
    return true;
  });
}

void StaleWatch::sync(const Subscriptions& subs, SteadyTime now) {
  // What the subscriptions ask for now, with the shortest stale_after per clock.
  std::map<Key, std::chrono::milliseconds> wanted;
  auto want = [&](const Key& k, std::chrono::milliseconds after) {
    auto [it, fresh] = wanted.try_emplace(k, after);
    if (!fresh) it->second = std::min(it->second, after);
  };
  for (const auto& [key, f] : subs) {
    if (key.channel != model::Channel::telemetry || !f.stale_after) continue;
    if (key.device != hub::kAllDevices) for_each_wanted(subs, key.device, want);
  }
  // Devices an every-device subscription started (by their readings) stay while it does.
  for (const auto& [k, c] : clocks_)
    if (!wanted.contains(k)) for_each_wanted(subs, k.first, [&](const Key& w, auto after) {
        if (w == k) want(w, after);
      });
  for (auto it = clocks_.begin(); it != clocks_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    dues_.move(it->first, it->second.due, SteadyTime::max());
    it = clocks_.erase(it);
  }
  for (const auto& [k, after] : wanted) {
    auto [it, fresh] = clocks_.try_emplace(k);
    Clock& c = it->second;
    if (fresh || c.after != after) {
      c.after = after;
      if (!c.stale) dues_.move(k, c.due, now + after);
    }
  }
}

StaleWatch::Resumed StaleWatch::seen(const Subscriptions& subs, std::int64_t device,
                                     std::span<const model::MetricReading> readings,
                                     SteadyTime now) {
  Resumed resumed;
  std::optional<util::TimePoint> newest;
  for (const auto& r : readings) newest = newest ? std::max(*newest, r.timestamp) : r.timestamp;
  auto restart = [&](const Key& k, std::chrono::milliseconds after, util::TimePoint at) {
    auto [it, fresh] = clocks_.try_emplace(k);
    Clock& c = it->second;
    if (fresh || after < c.after) c.after = after;
    if (c.stale) {
      c.stale = false;
      if (k.second.empty()) resumed.device = true;
      else resumed.metrics.push_back(k.second);
    }
    c.last_seen = c.last_seen ? std::max(*c.last_seen, at) : at;
    dues_.move(k, c.due, now + c.after);
  };
  if (!newest) return resumed;
  for_each_wanted(subs, device, [&](const Key& k, std::chrono::milliseconds after) {
    if (k.second.empty()) {
      restart(k, after, *newest);
      return;
    }
    for (const auto& r : readings)
      if (r.name == k.second) restart(k, after, r.timestamp);
  });
  return resumed;
}

std::vector<StaleWatch::Stale> StaleWatch::take_due(SteadyTime now) {
  std::vector<Stale> out;
  while (auto due = dues_.pop_due(now)) {
    const Key key = *due;
    Clock& c = clocks_.at(key);
    c.due = SteadyTime::max();
    c.stale = true;
    out.push_back(Stale{key.first, key.second, c.last_seen, c.after});
  }
  return out;
}

SteadyTime StaleWatch::next_due() const { return dues_.next(); }

}  // namespace valtronics::session
