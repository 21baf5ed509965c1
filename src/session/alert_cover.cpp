// Alert covers and replay de-duplication.
#include "session/alert_cover.hpp"

#include <algorithm>

#include "config/limits.hpp"
#include "model/enum_names.hpp"

namespace valtronics::session {

namespace {

bool within(const AlertCover& c, std::int64_t device, std::int64_t id, model::Severity severity,
            model::AlertType type) {
  return (c.device == hub::kAllDevices || c.device == device) && id > c.start &&
         model::empty_or_contains(c.severities, severity) &&
         model::empty_or_contains(c.alert_types, type);
}

}  // namespace

bool sent_at_or_after(const SentAlerts& sent, std::int64_t id, model::AlertStatus status) {
  auto it = sent.find(id);
  return it != sent.end() && it->second >= model::rank(status);
}

std::vector<AlertCover> AlertsLedger::covers(const Subscriptions& subs) const {
  std::vector<AlertCover> out;
  for (const auto& [device, start] : starts_) {
    auto it = subs.find({model::Channel::alerts, device});
    if (it == subs.end()) continue;
    out.push_back({device, it->second.severities, it->second.alert_types, start});
  }
  return out;
}

bool AlertsLedger::already_sent(const model::Alert& a, const std::vector<AlertCover>& cover) const {
  for (const auto& c : cover)
    if (within(c, a.device_id, a.id, a.severity, a.alert_type)) return true;
  auto it = other_sent_.find(a.id);
  return it != other_sent_.end() && it->second >= model::rank(a.status);
}

void AlertsLedger::note_sent(const model::AlertEvent& a, const Subscriptions& subs) {
  for (const auto& c : covers(subs))
    if (within(c, a.device_id, a.alert_id, a.severity, a.alert_type)) return;
  auto& rank = other_sent_[a.alert_id];
  rank = std::max(rank, model::rank(a.status));
  if (other_sent_.size() > limits::kMaxOtherSentAlerts) other_sent_.erase(other_sent_.begin());
}

void raise_to(std::atomic<std::int64_t>& a, std::int64_t v) {
  auto cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

}  // namespace valtronics::session
