// Telemetry with a `frequency`: the latest value of each metric waits for its device's next slot,
// then leaves as one update. Per connection, only for subscriptions that asked for fewer updates
// (the real-time path never comes here). With `aggregate` (issue 15) a device's slot carries, per
// metric, the aggregate of the readings held since the last one instead of the latest value.
// Pure: time is a parameter.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/reading.hpp"
#include "session/subscription_set.hpp"

namespace valtronics::session {

using SteadyTime = std::chrono::steady_clock::time_point;

class Throttles {
 public:
  // What a device's slot releases: the latest reading of each metric, or with `aggregate` each
  // metric's aggregate (its value replaced, the newest reading's timestamp and unit kept) and
  // `counts`, the readings folded per metric (parallel to `readings`).
  struct Window {
    std::vector<model::MetricReading> readings;
    std::vector<std::int64_t> counts;
    std::optional<protocol::Aggregate> aggregate;
    std::chrono::milliseconds frequency{0};
  };

  // Readings of `device` for a throttled plan: keeps the latest value of each wanted metric.
  // Returns true when the device's slot is open now: the caller sends take(device, now) at once.
  bool hold(std::int64_t device, std::span<const model::MetricReading> readings,
            const TelemetryPlan& plan, SteadyTime now);
  // The held values of `device`, emptied, and its next slot set `frequency` from now.
  Window take(std::int64_t device, SteadyTime now);
  // Every device whose slot has come and that holds values, emptied (paced from the slot, not
  // from now, so an interval keeps its rhythm).
  std::vector<std::pair<std::int64_t, Window>> take_due(SteadyTime now);
  // The earliest slot of a device holding values; SteadyTime::max() when none.
  SteadyTime next_due() const;
  // After the subscriptions or the token changed: keeps only what they still throttle for a
  // device the token still sees, restricted to the metrics they still want, at their (new)
  // frequency.
  void prune(const Subscriptions& subs, const std::function<bool(std::int64_t)>& visible);
  bool empty() const { return by_device_.empty(); }

 private:
  struct Fold {
    std::int64_t count = 0;
    double sum = 0, min = 0, max = 0;
  };
  struct Throttle {
    SteadyTime next_due{};
    std::chrono::milliseconds frequency{0};
    std::optional<protocol::Aggregate> aggregate;
    std::map<std::string, model::MetricReading> pending;
    std::map<std::string, Fold> folds;  // with `aggregate` only
  };
  static Window drain(Throttle& th);
  std::map<std::int64_t, Throttle> by_device_;
};

}  // namespace valtronics::session
