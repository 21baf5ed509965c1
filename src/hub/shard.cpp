// Shard index and dispatch. Vectors of raw pointers: the session removes itself before it dies,
// and the shard's thread is the only one that reads or writes them.
#include "hub/shard.hpp"

#include <algorithm>

#include "hub/conflation.hpp"
#include "metrics/counters.hpp"

namespace valtronics::hub {

namespace {
constexpr std::size_t kMaxUnwritten = 4096;
}

std::vector<Subscriber*>& Shard::bucket(model::Channel channel, std::int64_t device) {
  auto& ci = index_[static_cast<std::size_t>(channel)];
  return device == kAllDevices ? ci.all_devices : ci.by_device[device];
}

void Shard::add(Subscriber* s, model::Channel channel, std::int64_t device) {
  auto& b = bucket(channel, device);
  if (std::find(b.begin(), b.end(), s) != b.end()) return;
  b.push_back(s);
  ++registrations_;
  if (interest_) interest_->add(channel, device);
}

void Shard::remove(Subscriber* s, model::Channel channel, std::int64_t device) {
  auto& ci = index_[static_cast<std::size_t>(channel)];
  std::vector<Subscriber*>* b = nullptr;
  if (device == kAllDevices) {
    b = &ci.all_devices;
  } else {
    auto it = ci.by_device.find(device);
    if (it == ci.by_device.end()) return;
    b = &it->second;
  }
  auto it = std::find(b->begin(), b->end(), s);
  if (it == b->end()) return;
  *it = b->back();  // order within a bucket does not matter: swap-remove is O(1) after the find
  b->pop_back();
  --registrations_;
  if (interest_) interest_->remove(channel, device);
  if (b->empty() && device != kAllDevices) ci.by_device.erase(device);
}

bool Shard::dispatch(const EventPtr& event) {
  cache_.clear();
  auto& ci = index_[static_cast<std::size_t>(event->channel)];
  bool reached = false;
  auto deliver = [&](std::vector<Subscriber*>& subs) {
    reached = reached || !subs.empty();
    // Index loop: a subscriber may not unsubscribe re-entrantly (on_event only enqueues), but a
    // size read each turn keeps this safe should that ever change.
    for (std::size_t i = 0; i < subs.size(); ++i) {
      Subscriber* s = subs[i];
      if (s->last_event_id_ == event->id) continue;
      s->last_event_id_ = event->id;
      s->on_event(event, cache_);
    }
  };
  if (const auto device = event->device_id(); device != kAllDevices) {
    if (auto it = ci.by_device.find(device); it != ci.by_device.end()) deliver(it->second);
  }
  deliver(ci.all_devices);
  return reached;
}

bool Shard::enqueue(std::span<const EventPtr> events) {
  std::lock_guard lock(inbox_mutex_);
  const bool was_empty = inbox_.empty();
  inbox_.insert(inbox_.end(), events.begin(), events.end());
  queued_.store(true, std::memory_order_release);
  return was_empty;
}

void Shard::drain(SteadyTime now) {
  {
    std::lock_guard lock(inbox_mutex_);
    draining_.swap(inbox_);
    queued_.store(false, std::memory_order_release);
  }
  if (draining_.empty()) return;
  // Behind: the oldest waiting event is older than conflate_after. Every subscriber then gets
  // the latest value of each device with `"conflated":n` instead of n frames it would receive
  // ever later (the slow-consumer path does the same per connection).
  if (conflate_after_.count() > 0 && draining_.size() > 1 &&
      now - draining_.front()->published_at > conflate_after_)
    conflated_.fetch_add(conflate_telemetry(draining_), std::memory_order_relaxed);
  for (const auto& e : draining_) {
    if (dispatch(e) && unwritten_.size() < kMaxUnwritten) unwritten_.push_back(e->published_at);
  }
  draining_.clear();
}

void Shard::written(SteadyTime now) {
  for (const auto t : unwritten_) metrics::observe(metrics::Histogram::enqueue_to_write, now - t);
  unwritten_.clear();
}

}  // namespace valtronics::hub
