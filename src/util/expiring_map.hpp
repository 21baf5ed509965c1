// A map from string keys (client addresses) to values that each expire at a given time, with
// a hard bound on its size: when full, the entry expiring first is evicted to make room. The
// per-address records of the abuse checks (auth failure counts, bans, log throttling) are all of
// this shape, and each must stay bounded whatever number of addresses an attacker uses.
// Not thread-safe: the owner locks.
#pragma once

#include <chrono>
#include <cstddef>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace valtronics::util {

template <class V>
class ExpiringMap {
 public:
  using Time = std::chrono::steady_clock::time_point;

  explicit ExpiringMap(std::size_t max_entries) : max_(max_entries) {}

  // The live value of `key`, or null when absent or expired at `now` (an expired entry is
  // dropped). Valid until the next non-const call.
  V* find(const std::string& key, Time now) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    if (it->second.expires <= now) {
      order_.erase({it->second.expires, key});
      map_.erase(it);
      return nullptr;
    }
    return &it->second.value;
  }

  // When `key` expires (only for a key find() just returned).
  Time expires(const std::string& key) const { return map_.at(key).expires; }

  // Sets `key` to `value` until `expires`, replacing any entry of it. Expired entries go first;
  // if the map is still full, the entry expiring first is evicted (returned true then).
  bool put(const std::string& key, V value, Time expires, Time now) {
    erase(key);
    prune(now);
    bool evicted = false;
    if (max_ == 0) return false;
    if (map_.size() >= max_) {
      auto first = order_.begin();
      map_.erase(first->second);
      order_.erase(first);
      evicted = true;
    }
    map_.emplace(key, Entry{std::move(value), expires});
    order_.emplace(expires, key);
    return evicted;
  }

  void erase(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    order_.erase({it->second.expires, key});
    map_.erase(it);
  }

  // Drops every entry expired at `now` (the earliest first, so this costs only what it drops).
  void prune(Time now) {
    while (!order_.empty() && order_.begin()->first <= now) {
      map_.erase(order_.begin()->second);
      order_.erase(order_.begin());
    }
  }

  std::size_t size() const { return map_.size(); }
  std::size_t max_size() const { return max_; }

 private:
  struct Entry {
    V value;
    Time expires;
  };
  std::size_t max_;
  std::unordered_map<std::string, Entry> map_;
  std::set<std::pair<Time, std::string>> order_;  // (expiry, key): the eviction order
};

}  // namespace valtronics::util
