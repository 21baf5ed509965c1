// Deadlines of the connections living on one I/O thread, kept by one timer for the whole thread.
//
// Every connection has at most one deadline at a time (the auth timeout, then the token warning
// and expiry, then the close linger). A steady_timer per connection costs 120 bytes in the session
// plus a pending wait operation of ~100-450 bytes for its whole life; idle connections are what the
// memory target is about (docs/benchmarks.md), so one timer per thread serves them all instead: a
// binary min-heap of (when, owner) entries, 16 bytes each, where each owner knows its position, so
// a deadline is replaced or cancelled in O(log n) and an ended owner leaves nothing behind.
//
// Single-threaded, like everything a worker owns.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace valtronics::net {

class Deadlines;

class DeadlineOwner {
 public:
  virtual void on_deadline() = 0;

 protected:
  ~DeadlineOwner() = default;  // an owner must cancel() its deadline before it ends

 private:
  friend class Deadlines;
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};
  std::uint32_t heap_index_ = kNone;
};

class Deadlines {
 public:
  using Clock = std::chrono::steady_clock;
  // Keeps `ioc` to make its timer on first use: the queue is built before the worker's io_context
  // and outlives it, because sessions destroyed with the context still cancel their deadlines.
  explicit Deadlines(boost::asio::io_context* ioc) : ioc_(*ioc) {}
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;

  // Replaces `owner`'s deadline: on_deadline() runs on this thread at `when` (or soon after).
  void schedule(DeadlineOwner& owner, Clock::time_point when);
  void cancel(DeadlineOwner& owner);
  bool scheduled(const DeadlineOwner& owner) const {
    return owner.heap_index_ != DeadlineOwner::kNone;
  }
  std::size_t size() const { return heap_.size(); }

  // Runs every deadline due by `now`, earliest first (the timer calls it; tests call it directly).
  void run_due(Clock::time_point now);
  // Drops the timer (before the io_context goes); deadlines are still kept but never fire.
  void stop() {
    stopped_ = true;
    timer_.reset();
  }

 private:
  struct Entry {
    Clock::time_point when;
    DeadlineOwner* owner;
  };
  void place(std::size_t i, Entry e);  // heap_[i] = e, keeping e's owner's index
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void remove_at(std::size_t i);
  void arm();  // the timer waits for the earliest deadline

  boost::asio::io_context& ioc_;
  std::optional<boost::asio::steady_timer> timer_;
  bool stopped_ = false;
  std::vector<Entry> heap_;
  Clock::time_point armed_for_ = Clock::time_point::max();
  std::uint64_t arm_generation_ = 0;  // voids the completion of a wait that was re-armed
};

}  // namespace valtronics::net
