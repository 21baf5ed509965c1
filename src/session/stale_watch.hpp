// stale_after on telemetry subscriptions (issue 15; docs/protocol.md, "Extensions"): a clock
// per watched device (or per device and metric, when the subscription lists `metrics`) that
// each reading restarts; when one runs out the connection sends telemetry_stale once, and the
// next reading resumes it. Per connection, only once a subscription asks for it; the host sees
// one deadline, the earliest (the connection's telemetry timer in its thread's deadline heap),
// so idle clocks cost no timer of their own. Pure: time is a parameter.
//
// A subscription naming devices starts their clocks when it is made; one for every device
// starts a device's clock at its first reading after it (the connection does not know the
// devices that never report).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "model/reading.hpp"
#include "session/due_set.hpp"
#include "session/subscription_set.hpp"
#include "util/time.hpp"

namespace valtronics::session {

using SteadyTime = std::chrono::steady_clock::time_point;

class StaleWatch {
 public:
  struct Stale {
    std::int64_t device;
    std::string metric;  // empty: the device as a whole
    std::optional<util::TimePoint> last_seen;  // the newest reading's timestamp, if any came
    std::chrono::milliseconds after;
  };
  struct Resumed {
    bool device = false;               // the device's own clock was stale: every metric resumes
    std::vector<std::string> metrics;  // metrics whose clocks were stale
    bool any() const { return device || !metrics.empty(); }
  };

  // After the subscriptions changed: starts the clocks of devices they name (keeping those
  // already running), and forgets the clocks no subscription asks for any more.
  void sync(const Subscriptions& subs, SteadyTime now);
  // Readings of `device` arrived: their clocks restart. Returns what was stale until now.
  Resumed seen(const Subscriptions& subs, std::int64_t device,
               std::span<const model::MetricReading> readings, SteadyTime now);
  // The clocks that ran out (each reported once until data resumes).
  std::vector<Stale> take_due(SteadyTime now);
  SteadyTime next_due() const;
  bool empty() const { return clocks_.empty(); }

 private:
  using Key = std::pair<std::int64_t, std::string>;  // device, metric ("" for the device)
  struct Clock {
    std::chrono::milliseconds after{0};
    SteadyTime due = SteadyTime::max();  // max while stale
    bool stale = false;
    std::optional<util::TimePoint> last_seen;
  };
  // Calls fn(key, after) for each clock the subscriptions ask for on `device`, for the metric
  // `metric` ("" for every clock of the device: its own and one per listed metric).
  template <class Fn>
  static void for_each_wanted(const Subscriptions& subs, std::int64_t device, Fn fn);
  std::map<Key, Clock> clocks_;
  DueSet<Key> dues_;
};

}  // namespace valtronics::session
