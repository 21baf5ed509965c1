// What the hub knows of a subscriber: a callback on its own shard thread, and a marker that lets
// the shard hand each event to a subscriber at most once even when several of its subscriptions
// match (the hub never sees sessions, only this interface).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hub/event.hpp"

namespace valtronics::hub {

// Serializations of one event made during one dispatch, keyed by projection (e.g. the sorted
// metrics of a `metrics` filter). Subscribers with the same projection share the same bytes.
class ProjectionCache {
 public:
  using Bytes = std::shared_ptr<const std::string>;
  // Returns the cached bytes for `key`, or nullptr.
  const Bytes* find(const std::string& key) const {
    for (auto& [k, v] : entries_)
      if (k == key) return &v;
    return nullptr;
  }
  const Bytes& put(std::string key, Bytes bytes) {
    entries_.emplace_back(std::move(key), std::move(bytes));
    return entries_.back().second;
  }
  void clear() { entries_.clear(); }

 private:
  // A handful of projections per event at most: a flat vector beats a hash map here.
  std::vector<std::pair<std::string, Bytes>> entries_;
};

class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // Called on the subscriber's shard thread, at most once per event, for each event of a
  // (channel, device) it registered. The subscriber applies its own filters and claims.
  virtual void on_event(const EventPtr& event, ProjectionCache& cache) = 0;

 private:
  friend class Shard;
  std::uint64_t last_event_id_ = 0;  // the shard's at-most-once marker
};

}  // namespace valtronics::hub
