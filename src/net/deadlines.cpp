#include "net/deadlines.hpp"

namespace valtronics::net {

void Deadlines::place(std::size_t i, Entry e) {
  e.owner->heap_index_ = static_cast<std::uint32_t>(i);
  heap_[i] = e;
}

void Deadlines::sift_up(std::size_t i) {
  Entry e = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (heap_[parent].when <= e.when) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, e);
}

void Deadlines::sift_down(std::size_t i) {
  Entry e = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1].when < heap_[child].when) ++child;
    if (e.when <= heap_[child].when) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, e);
}

void Deadlines::remove_at(std::size_t i) {
  heap_[i].owner->heap_index_ = DeadlineOwner::kNone;
  Entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  place(i, last);
  sift_up(i);
  sift_down(last.owner->heap_index_);
}

void Deadlines::schedule(DeadlineOwner& owner, Clock::time_point when) {
  if (scheduled(owner)) {
    std::size_t i = owner.heap_index_;
    heap_[i].when = when;
    sift_up(i);
    sift_down(owner.heap_index_);
  } else {
    heap_.push_back({when, &owner});
    sift_up(heap_.size() - 1);
  }
  if (heap_.front().when < armed_for_) arm();
}

void Deadlines::cancel(DeadlineOwner& owner) {
  if (scheduled(owner)) remove_at(owner.heap_index_);
  // The timer may stay armed for a deadline that is gone: it then wakes once for nothing.
}

void Deadlines::run_due(Clock::time_point now) {
  while (!heap_.empty() && heap_.front().when <= now) {
    DeadlineOwner* owner = heap_.front().owner;
    remove_at(0);
    owner->on_deadline();  // may schedule again: the heap is consistent here
  }
}

void Deadlines::arm() {
  if (stopped_) return;
  if (!timer_) timer_.emplace(ioc_);
  if (heap_.empty()) {
    armed_for_ = Clock::time_point::max();
    timer_->cancel();
    return;
  }
  armed_for_ = heap_.front().when;
  timer_->expires_at(armed_for_);
  timer_->async_wait([this, gen = ++arm_generation_](boost::system::error_code ec) {
    if (ec || gen != arm_generation_) return;  // re-armed or cancelled meanwhile
    armed_for_ = Clock::time_point::max();
    run_due(Clock::now());
    if (!heap_.empty()) arm();
  });
}

}  // namespace valtronics::net
