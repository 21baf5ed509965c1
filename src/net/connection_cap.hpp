// A cap on connections open at once, shared by every I/O thread (plain HTTP connections:
// limits.max_http_connections). A slot is taken when a connection is accepted and given back
// when it ends; a connection that finds the cap reached is answered 503 and closed.
#pragma once

#include <atomic>
#include <cstddef>

namespace valtronics::net {

class ConnectionCap {
 public:
  explicit ConnectionCap(std::size_t max) : max_(max) {}
  // Takes a slot; false (nothing taken) when `max` are open.
  bool try_acquire() {
    std::size_t n = open_.load(std::memory_order_relaxed);
    while (n < max_)
      if (open_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    return false;
  }
  void release() { open_.fetch_sub(1, std::memory_order_relaxed); }
  std::size_t open() const { return open_.load(std::memory_order_relaxed); }
  std::size_t max() const { return max_; }
  // A reloaded limit (SIGHUP; every I/O thread paused): connections above it stay, new ones
  // wait until they are below.
  void set_max(std::size_t max) { max_ = max; }

 private:
  std::size_t max_;
  std::atomic<std::size_t> open_{0};
};

}  // namespace valtronics::net
