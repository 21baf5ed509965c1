// One shard of the subscription index: the subscriptions of the connections living on one I/O
// thread, indexed by channel and device. Only that thread touches the index, so matching and
// enqueueing take no lock (uWebSockets: one loop per thread; nats-server sublist for the index
// idea). Events reach it through its inbox: publishers append, the thread drains everything
// waiting in one go, conflating telemetry when it finds itself behind.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "hub/event.hpp"
#include "hub/interest.hpp"
#include "hub/subscriber.hpp"

namespace valtronics::hub {

inline constexpr std::int64_t kAllDevices = 0;  // device ids are positive: 0 is "every device"

class Shard {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // `conflate_after`: a drain conflates telemetry when its oldest event waited longer than this,
  // or when delivering the batch would take longer than this at the cost per delivery the
  // thread measured on its recent large rounds (limits.conflate_after); zero never does.
  explicit Shard(std::chrono::milliseconds conflate_after = std::chrono::milliseconds::zero())
      : conflate_after_(conflate_after) {}

  // Registers `s` for events of `channel` about `device` (kAllDevices: every device; system
  // events have no device and reach the kAllDevices list). Registering twice is harmless.
  void add(Subscriber* s, model::Channel channel, std::int64_t device);
  void remove(Subscriber* s, model::Channel channel, std::int64_t device);

  // Hands `event` to every registered subscriber of its channel and device, each at most once.
  // False when it had none here.
  bool dispatch(const EventPtr& event);

  // ---- the inbox
  // Any thread: appends `events` (in order). True when the inbox was empty: the caller posts one
  // drain() to the shard's thread for everything appended until it runs.
  bool enqueue(std::span<const EventPtr> events);
  // The shard's thread: dispatches everything waiting, in order. When the thread is behind its
  // publishers, the telemetry updates of a device waiting together go out as one
  // (hub/conflation.hpp). Behind: the oldest waited longer than conflate_after, or the batch
  // would take longer than that to deliver (its deliveries, and those earlier drains queued
  // that are not written yet, times the measured cost of one). The
  // second catches a publisher held back by its answers (a pipelining client keeps N requests in
  // flight): its readings arrive fresh, N at a time, and only their delivery is slow.
  void drain(SteadyTime now);
  // Events appended and not yet drained: the thread holds its socket writes while this is true,
  // so that they join this turn's writes.
  bool has_queued() const { return queued_.load(std::memory_order_acquire); }
  // Telemetry updates absorbed by conflation so far (any thread).
  std::uint64_t conflated() const { return conflated_.load(std::memory_order_relaxed); }
  // The shard's thread, once its flush wrote what the drains since the last call queued:
  // observes each drained event's enqueue-to-write latency (GET /metrics), and, for a round of
  // at least kCostSample deliveries, its cost per delivery (first drain to written, over the
  // deliveries: the dispatch, the writes, and the loop's other work meanwhile).
  void written(SteadyTime now);
  // The thread's flush is scheduled: it ends with written(). Until then a drain that finds the
  // thread behind by more than conflate_after of unwritten deliveries holds its events, and
  // written() delivers them together, conflated: one update per device per round of writes
  // instead of a frame per reading the thread can never catch up with.
  void flush_scheduled() { flush_pending_ = true; }
  // The measured time per delivery (zero until a large enough round was written).
  std::chrono::nanoseconds cost_per_delivery() const {
    return std::chrono::nanoseconds(static_cast<std::int64_t>(ns_per_delivery_));
  }
  static constexpr std::size_t kCostSample = 1000;

  // ---- waiting for ingest in flight (hub.hpp: Hub::park)
  // Set once, before the thread runs: posts a flush back to the shard's thread.
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }

  std::size_t registrations() const { return registrations_; }
  // Set once by the hub, before the thread runs: every registration is counted there too.
  void set_interest(Interest* interest) { interest_ = interest; }

 private:
  friend class Hub;
  struct ChannelIndex {
    std::unordered_map<std::int64_t, std::vector<Subscriber*>> by_device;
    std::vector<Subscriber*> all_devices;
  };
  std::vector<Subscriber*>& bucket(model::Channel channel, std::int64_t device);

  std::array<ChannelIndex, model::kChannelCount> index_;
  ProjectionCache cache_;
  std::size_t registrations_ = 0;
  Interest* interest_ = nullptr;
  std::chrono::milliseconds conflate_after_;

 public:
  // A reloaded limits.conflate_after (SIGHUP): set while the shard's thread is paused.
  void set_conflate_after(std::chrono::milliseconds d) { conflate_after_ = d; }

 private:

  // The inbox: a short critical section per publish and per drain (a swap), never per delivery.
  std::mutex inbox_mutex_;
  std::vector<EventPtr> inbox_;
  std::vector<EventPtr> draining_;  // the drained batch; its capacity is reused
  // When each event drained since the last written() was published (bounded: a thread that
  // never flushes keeps the first ones only).
  std::vector<SteadyTime> unwritten_;
  std::atomic<bool> queued_{false};
  std::atomic<std::uint64_t> conflated_{0};
  // The cost of a delivery (drain and written()): an average over recent large rounds.
  std::size_t dispatched_ = 0;          // deliveries handed to subscribers, ever
  std::size_t round_deliveries_ = 0;    // of the drains since the last written()
  SteadyTime round_started_{};          // the first of those drains
  double ns_per_delivery_ = 0;
  bool flush_pending_ = false;     // flush_scheduled() and no written() since
  std::vector<EventPtr> held_;     // drained while behind, delivered by written()
  // Conflates (when `force`, or by the rules of drain()) and dispatches draining_.
  void deliver_draining(SteadyTime now, bool force);
  // Deliveries the batch would make (its events' registered subscribers).
  std::size_t reach(const std::vector<EventPtr>& events) const;

  std::atomic<bool> parked_{false};
  std::function<void()> wake_;
};

}  // namespace valtronics::hub
