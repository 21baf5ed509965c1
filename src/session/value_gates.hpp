// Deadband and crossing gates of real-time telemetry (issue 15; docs/protocol.md, "Extensions"):
// which values of an update go out to one connection, and the values held back that max_silence
// sends later. Per connection, only once a subscription asks for gates. Pure: time is a parameter.
//
// A connection's subscriptions that concern a device are a union (docs/protocol.md): a metric
// goes out when any of them that wants it lets it through. One that has no gate for the metric
// always does; a deadband gate when the value moved by more than the band since the last value
// this connection was sent of that device and metric (the first value always); a crossing gate
// when the value is on the other side of its level than the value before it (seen, sent or not).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "model/reading.hpp"
#include "protocol/messages.hpp"
#include "session/due_set.hpp"
#include "session/subscription_set.hpp"

namespace valtronics::session {

using SteadyTime = std::chrono::steady_clock::time_point;

class ValueGates {
 public:
  struct Crossed {
    std::string metric;
    protocol::Direction direction;  // up or down
  };
  struct Passed {
    std::vector<model::MetricReading> readings;  // what goes out, in the update's order
    std::vector<Crossed> crossed;                // the crossings among them
  };

  // The readings of `device` (already restricted to the metrics the connection wants) that go
  // out now. Those passed count as sent; a value a deadband holds back waits for max_silence.
  // `force`: metrics that go out whatever their gates (data resuming after telemetry_stale),
  // `force_all`: every metric.
  Passed pass(const Subscriptions& subs, std::int64_t device,
              std::span<const model::MetricReading> readings, SteadyTime now,
              std::span<const std::string> force = {}, bool force_all = false);

  // The values held back whose max_silence has passed, by device: they count as sent now.
  std::vector<std::pair<std::int64_t, std::vector<model::MetricReading>>> take_due(SteadyTime now);
  // The earliest max_silence deadline; SteadyTime::max() when none.
  SteadyTime next_due() const;
  // After the subscriptions changed: forgets the devices no gated subscription concerns any
  // more, and values held for a max_silence no subscription asks for now.
  void prune(const Subscriptions& subs);
  bool empty() const { return states_.empty(); }

 private:
  using Key = std::pair<std::int64_t, std::string>;  // device, metric
  struct State {
    std::optional<double> sent;  // the last value sent to the connection
    std::optional<double> seen;  // the last value received (crossings compare with it)
    SteadyTime sent_at{};        // when it was
    std::optional<model::MetricReading> held;  // held back by a deadband, for max_silence
    SteadyTime due = SteadyTime::max();        // when `held` goes out
  };
  std::map<Key, State> states_;
  DueSet<Key> dues_;  // the states holding a value
};

}  // namespace valtronics::session
