// Deadband and crossing gates: what a connection is sent of a device's readings.
#include "session/value_gates.hpp"

#include <algorithm>
#include <cmath>

namespace valtronics::session {

using protocol::Direction;

ValueGates::Passed ValueGates::pass(const Subscriptions& subs, std::int64_t device,
                                    std::span<const model::MetricReading> readings,
                                    SteadyTime now, std::span<const std::string> force,
                                    bool force_all) {
  Passed out;
  for (const auto& r : readings) {
    const Key key{device, r.name};
    State& st = states_[key];
    bool send = force_all || std::find(force.begin(), force.end(), r.name) != force.end();
    std::optional<Direction> crossed;
    std::optional<std::chrono::milliseconds> silence;  // the shortest max_silence holding it
    for_each_concerning(subs, model::Channel::telemetry, device,
                        [&](const SubKey&, const protocol::Filters& f) {
      if (!wants_metric(f, r.name)) return true;
      if (const double* level = f.crossing.find(r.name)) {
        // A crossing needs a value before it: the first one crosses nothing.
        if (st.seen && (*st.seen >= *level) != (r.value >= *level)) {
          const Direction dir = r.value >= *level ? Direction::up : Direction::down;
          if (f.direction.value_or(Direction::both) == Direction::both || *f.direction == dir) {
            send = true;
            crossed = dir;
          }
        }
        return true;
      }
      const double* absolute = f.deadband.find(r.name);
      const double* percent = f.deadband_pct.find(r.name);
      if ((!absolute && !percent) || !st.sent) {
        send = true;  // no gate for this metric here, or the first value
        return true;
      }
      double band = absolute ? *absolute : 0.0;
      if (percent) band = std::max(band, std::abs(*st.sent) * *percent / 100.0);
      if (std::abs(r.value - *st.sent) > band) send = true;
      else if (f.max_silence) silence = std::min(silence.value_or(*f.max_silence), *f.max_silence);
      return true;
    });
    st.seen = r.value;
    // Held back longer than max_silence already: it goes out now rather than at a deadline past.
    if (!send && silence && now >= st.sent_at + *silence) send = true;
    if (send) {
      st.sent = r.value;
      st.sent_at = now;
      st.held.reset();
      dues_.move(key, st.due, SteadyTime::max());
      out.readings.push_back(r);
      if (crossed) out.crossed.push_back(Crossed{r.name, *crossed});
    } else if (silence) {
      st.held = r;
      dues_.move(key, st.due, std::min(st.due, st.sent_at + *silence));
    }
  }
  return out;
}

std::vector<std::pair<std::int64_t, std::vector<model::MetricReading>>> ValueGates::take_due(
    SteadyTime now) {
  std::vector<std::pair<std::int64_t, std::vector<model::MetricReading>>> out;
  while (auto due = dues_.pop_due(now)) {
    const Key key = *due;
    State& st = states_.at(key);
    st.due = SteadyTime::max();
    if (!st.held) continue;
    st.sent = st.held->value;
    st.sent_at = now;
    // Dues come in time order, devices interleaved: one entry per device.
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const auto& e) { return e.first == key.first; });
    if (it == out.end()) it = out.insert(out.end(), {key.first, {}});
    it->second.push_back(std::move(*st.held));
    st.held.reset();
  }
  return out;
}

SteadyTime ValueGates::next_due() const { return dues_.next(); }

void ValueGates::prune(const Subscriptions& subs) {
  for (auto it = states_.begin(); it != states_.end();) {
    bool gated = false, silence = false;
    for_each_concerning(subs, model::Channel::telemetry, it->first.first,
                        [&](const SubKey&, const protocol::Filters& f) {
      if (!wants_metric(f, it->first.second) || !f.gates_values()) return true;
      gated = true;
      silence = silence || f.max_silence.has_value();
      return true;
    });
    if (!gated) {
      dues_.move(it->first, it->second.due, SteadyTime::max());
      it = states_.erase(it);
      continue;
    }
    if (!silence) {
      it->second.held.reset();
      dues_.move(it->first, it->second.due, SteadyTime::max());
    }
    ++it;
  }
}

}  // namespace valtronics::session
