// One shard of the subscription index: the subscriptions of the connections living on one I/O
// thread, indexed by channel and device. Only that thread touches it, so matching and enqueueing
// take no lock (uWebSockets: one loop per thread; nats-server sublist for the index idea).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "hub/event.hpp"
#include "hub/subscriber.hpp"

namespace valtronics::hub {

inline constexpr std::int64_t kAllDevices = 0;  // device ids are positive: 0 is "every device"

class Shard {
 public:
  // Registers `s` for events of `channel` about `device` (kAllDevices: every device; system
  // events have no device and reach the kAllDevices list). Registering twice is harmless.
  void add(Subscriber* s, model::Channel channel, std::int64_t device);
  void remove(Subscriber* s, model::Channel channel, std::int64_t device);

  // Hands `event` to every registered subscriber of its channel and device, each at most once.
  void dispatch(const EventPtr& event);

  std::size_t registrations() const { return registrations_; }

  // Dispatches posted to this shard's thread and not yet run. The publisher counts them up and
  // the dispatch counts them down, so the thread can tell whether more events are already
  // waiting (and hold its socket writes until they are queued too).
  void posted(std::size_t n = 1) { pending_.fetch_add(n, std::memory_order_relaxed); }
  void ran(std::size_t n = 1) { pending_.fetch_sub(n, std::memory_order_relaxed); }
  std::size_t pending() const { return pending_.load(std::memory_order_relaxed); }

 private:
  struct ChannelIndex {
    std::unordered_map<std::int64_t, std::vector<Subscriber*>> by_device;
    std::vector<Subscriber*> all_devices;
  };
  std::vector<Subscriber*>& bucket(model::Channel channel, std::int64_t device);

  std::array<ChannelIndex, model::kChannelCount> index_;
  ProjectionCache cache_;
  std::size_t registrations_ = 0;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace valtronics::hub
