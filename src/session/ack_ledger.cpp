// Unacknowledged alert deliveries and their redelivery deadlines.
#include "session/ack_ledger.hpp"

#include <algorithm>

namespace valtronics::session {

std::uint64_t AckLedger::track(Bytes alert, SteadyTime due) {
  const std::uint64_t id = ++last_id_;
  auto& e = pending_.emplace(id, Entry{std::move(alert), SteadyTime::max()}).first->second;
  dues_.move(id, e.due, due);
  return id;
}

bool AckLedger::ack(std::uint64_t id) {
  if (id == 0 || id > last_id_) return false;
  auto it = pending_.find(id);
  if (it == pending_.end()) return true;
  dues_.move(id, it->second.due, SteadyTime::max());
  pending_.erase(it);
  return true;
}

std::vector<std::pair<std::uint64_t, AckLedger::Bytes>> AckLedger::take_due(SteadyTime now,
                                                                            SteadyTime next) {
  std::vector<std::pair<std::uint64_t, Bytes>> out;
  while (auto due = dues_.pop_due(now)) {
    Entry& e = pending_.at(*due);
    e.due = SteadyTime::max();
    out.emplace_back(*due, e.alert);
  }
  for (const auto& [id, alert] : out) dues_.move(id, pending_.at(id).due, next);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

SteadyTime AckLedger::next_due() const { return dues_.next(); }

}  // namespace valtronics::session
