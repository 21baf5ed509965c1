// Deadlines of many keys in time order, for the per-connection clocks of issue 15 (max_silence,
// stale_after, alert redelivery): each owner stores a key's current deadline beside its own
// state and moves it here, so the earliest is always at hand and the connection gives its
// thread's deadline heap only that one. SteadyTime::max() means "no deadline".
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <utility>

namespace valtronics::session {

template <class Key>
class DueSet {
 public:
  using Time = std::chrono::steady_clock::time_point;

  // Moves `key` from the deadline `slot` holds to `due` (either may be Time::max()); `slot`
  // is the owner's copy of the key's deadline and is updated.
  void move(const Key& key, Time& slot, Time due) {
    if (slot == due) return;
    if (slot != Time::max()) dues_.erase({slot, key});
    slot = due;
    if (due != Time::max()) dues_.insert({due, key});
  }
  // The key of the earliest deadline at or before `now`, removed (its owner's slot must then
  // be set to Time::max() or moved again); nullopt when none is due.
  std::optional<Key> pop_due(Time now) {
    if (dues_.empty() || dues_.begin()->first > now) return std::nullopt;
    Key key = dues_.begin()->second;
    dues_.erase(dues_.begin());
    return key;
  }
  Time next() const { return dues_.empty() ? Time::max() : dues_.begin()->first; }

 private:
  std::set<std::pair<Time, Key>> dues_;
};

}  // namespace valtronics::session
