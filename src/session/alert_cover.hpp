// What a connection's alerts subscriptions have already delivered, so that a since_alert_id
// replay skips alerts the connection has (docs/protocol.md, "Replays"). Pure bookkeeping.
//
// A subscription's cover: every alert it matches (device, severity, alert type) with an id above
// its `start`, at every state the alert has reached since (live delivery sends them all). Alerts
// sent live outside of every cover (a state change of an alert older than the subscriptions, say)
// are remembered one by one, the newest limits::kMaxOtherSentAlerts of them.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "model/alert.hpp"
#include "model/events.hpp"
#include "session/subscription_set.hpp"

namespace valtronics::session {

struct AlertCover {
  std::int64_t device;  // hub::kAllDevices for every device
  std::vector<model::Severity> severities;
  std::vector<model::AlertType> alert_types;
  std::int64_t start;
};

// Alert id -> the highest status rank sent.
using SentAlerts = std::unordered_map<std::int64_t, int>;

// True when `sent` holds `id` at `status` or a later state.
bool sent_at_or_after(const SentAlerts& sent, std::int64_t id, model::AlertStatus status);

class AlertsLedger {
 public:
  // The alerts subscription of `device` (hub::kAllDevices: every device) starts at `start`: its
  // catch-up is done, and every matching alert above `start` is delivered from now on.
  void set_start(std::int64_t device, std::int64_t start) { starts_[device] = start; }
  // The subscription of `device` was replaced or removed.
  void forget(std::int64_t device) { starts_.erase(device); }
  // A token refresh widened what the connection may see: the covers no longer say what the
  // connection has (alerts of the newly visible devices were never sent).
  void forget_all() { starts_.clear(); }

  // The covers of the current alerts subscriptions (their filters from `subs`).
  std::vector<AlertCover> covers(const Subscriptions& subs) const;
  // Has the connection got `a` at its status or later (within `cover`, or sent outside)?
  bool already_sent(const model::Alert& a, const std::vector<AlertCover>& cover) const;
  // A live alert is being sent: remembered when no current cover explains it.
  void note_sent(const model::AlertEvent& a, const Subscriptions& subs);

 private:
  std::map<std::int64_t, std::int64_t> starts_;  // device -> its cover's start
  // Alert id -> status rank, of live alerts sent outside every cover (ordered: oldest dropped).
  std::map<std::int64_t, int> other_sent_;
};

// Raises `a` to `v` if it is lower (the shared newest alert id).
void raise_to(std::atomic<std::int64_t>& a, std::int64_t v);

}  // namespace valtronics::session
