// Unacknowledged alert deliveries and their redelivery deadlines.
#include "session/ack_ledger.hpp"

#include <algorithm>

namespace valtronics::session {

std::uint64_t AckLedger::track(Bytes alert, SteadyTime due) {
  const std::uint64_t id = ++last_id_;
  pending_.emplace(id, Entry{std::move(alert), due});
  dues_.insert({due, id});
  return id;
}

bool AckLedger::ack(std::uint64_t id) {
  if (id == 0 || id > last_id_) return false;
  auto it = pending_.find(id);
  if (it == pending_.end()) return true;
  dues_.erase({it->second.due, id});
  pending_.erase(it);
  return true;
}

std::vector<std::pair<std::uint64_t, AckLedger::Bytes>> AckLedger::take_due(SteadyTime now,
                                                                            SteadyTime next) {
  std::vector<std::pair<std::uint64_t, Bytes>> out;
  while (!dues_.empty() && dues_.begin()->first <= now) {
    const std::uint64_t id = dues_.begin()->second;
    dues_.erase(dues_.begin());
    Entry& e = pending_.at(id);
    e.due = next;
    out.emplace_back(id, e.alert);
  }
  for (const auto& [id, alert] : out) dues_.insert({next, id});
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

SteadyTime AckLedger::next_due() const {
  return dues_.empty() ? SteadyTime::max() : dues_.begin()->first;
}

}  // namespace valtronics::session
