// What this node's connections subscribe to, summed over the shards: (channel, device) with a
// count of registrations (device kAllDevices: every device). A cluster node announces it to its
// peers so that they send it only the events someone here wants (cluster/membership.hpp).
// Registrations are rare next to events, so a mutex is cheap here; the hot path never reads it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "model/enums.hpp"

namespace valtronics::hub {

class Interest {
 public:
  using Key = std::pair<model::Channel, std::int64_t>;  // device 0: every device

  void add(model::Channel channel, std::int64_t device) {
    std::lock_guard lock(mutex_);
    if (counts_[{channel, device}]++ == 0) version_.fetch_add(1, std::memory_order_release);
  }
  void remove(model::Channel channel, std::int64_t device) {
    std::lock_guard lock(mutex_);
    auto it = counts_.find({channel, device});
    if (it == counts_.end()) return;
    if (--it->second == 0) {
      counts_.erase(it);
      version_.fetch_add(1, std::memory_order_release);
    }
  }
  // Changes each time a (channel, device) gains its first or loses its last registration.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::map<Key, std::size_t> snapshot() const {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<Key, std::size_t> counts_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace valtronics::hub
