// Alerts sent with `ack` (issue 15; docs/protocol.md, "Acknowledged alerts"): the deliveries a
// connection has not acknowledged yet, each sent again once its deadline passes. Per connection,
// allocated by the first acknowledged alert. Pure: time is a parameter.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "session/due_set.hpp"

namespace valtronics::session {

using SteadyTime = std::chrono::steady_clock::time_point;

class AckLedger {
 public:
  using Bytes = std::shared_ptr<const std::string>;

  // An alert (its shared serialization) sent now: its new delivery id, due again at `due`.
  std::uint64_t track(Bytes alert, SteadyTime due);
  // The client acknowledged `id`. False when no delivery of that id was ever made; an id
  // acknowledged already (a redelivery crossed the first ack) is fine.
  bool ack(std::uint64_t id);
  // The deliveries whose deadline passed, oldest id first, each due again at `next`.
  std::vector<std::pair<std::uint64_t, Bytes>> take_due(SteadyTime now, SteadyTime next);
  SteadyTime next_due() const;
  std::size_t pending() const { return pending_.size(); }

 private:
  struct Entry {
    Bytes alert;
    SteadyTime due;
  };
  std::uint64_t last_id_ = 0;
  std::map<std::uint64_t, Entry> pending_;
  DueSet<std::uint64_t> dues_;
};

}  // namespace valtronics::session
