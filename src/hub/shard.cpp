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
      ++dispatched_;
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
  // Behind by more than conflate_after of deliveries not yet written, with a flush on its way:
  // hold these until it is done (written()), so that what arrives meanwhile is delivered with
  // them, conflated. Held events keep their order, and nothing overtakes them.
  const bool behind = ns_per_delivery_ > 0 &&
                      static_cast<double>(round_deliveries_) * ns_per_delivery_ >
                          static_cast<double>(std::chrono::nanoseconds(conflate_after_).count());
  // (Once events are held, every later one waits behind them, whatever conflate_after became
  // meanwhile: nothing overtakes.)
  if (!held_.empty() || (conflate_after_.count() > 0 && flush_pending_ && behind)) {
    held_.insert(held_.end(), draining_.begin(), draining_.end());
    draining_.clear();
    return;
  }
  deliver_draining(now, false);
}

void Shard::deliver_draining(SteadyTime now, bool force) {
  // Behind: the oldest waiting event is older than conflate_after, or delivering the batch,
  // behind what earlier drains queued and the thread has not written yet, would take longer
  // than that (or the events were held for it). Every subscriber then gets the latest value of
  // each device with `"conflated":n` instead of n frames it would receive ever later (the
  // slow-consumer path does the same per connection).
  if (conflate_after_.count() > 0 && draining_.size() > 1) {
    const bool waited = now - draining_.front()->published_at > conflate_after_;
    const auto queued = round_deliveries_ + reach(draining_);
    const bool slow = ns_per_delivery_ > 0 &&
                      static_cast<double>(queued) * ns_per_delivery_ >
                          static_cast<double>(
                              std::chrono::nanoseconds(conflate_after_).count());
    if (force || waited || slow)
      conflated_.fetch_add(conflate_telemetry(draining_), std::memory_order_relaxed);
  }
  if (round_deliveries_ == 0) round_started_ = now;
  const auto before = dispatched_;
  for (const auto& e : draining_) {
    if (dispatch(e) && unwritten_.size() < kMaxUnwritten) unwritten_.push_back(e->published_at);
  }
  round_deliveries_ += dispatched_ - before;
  draining_.clear();
}

std::size_t Shard::reach(const std::vector<EventPtr>& events) const {
  std::size_t n = 0;
  for (const auto& e : events) {
    const auto& ci = index_[static_cast<std::size_t>(e->channel)];
    n += ci.all_devices.size();
    if (const auto device = e->device_id(); device != kAllDevices) {
      if (auto it = ci.by_device.find(device); it != ci.by_device.end()) n += it->second.size();
    }
  }
  return n;
}

void Shard::written(SteadyTime now) {
  for (const auto t : unwritten_) metrics::observe(metrics::Histogram::enqueue_to_write, now - t);
  unwritten_.clear();
  // Small rounds are left out: their time is mostly the cork's wait, not delivery.
  if (round_deliveries_ >= kCostSample) {
    const double ns = static_cast<double>(
                          std::chrono::duration_cast<std::chrono::nanoseconds>(now - round_started_)
                              .count()) /
                      static_cast<double>(round_deliveries_);
    ns_per_delivery_ = ns_per_delivery_ == 0 ? ns : 0.75 * ns_per_delivery_ + 0.25 * ns;
  }
  round_deliveries_ = 0;
  flush_pending_ = false;
  if (!held_.empty()) {
    // What waited for this round goes out now, one update per device (the next flush, which
    // this schedules, writes it).
    draining_.swap(held_);
    deliver_draining(now, true);
  }
}

}  // namespace valtronics::hub
