// A thread-safe queue of messages, for programs that prefer pulling messages on their own
// thread to handling callbacks on the client's thread (Client::queue). Unbounded by default; a
// bound drops the oldest message, so a stalled reader costs memory up to the bound only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "client/message.hpp"

namespace valtronics::client {

class MessageQueue {
 public:
  explicit MessageQueue(std::size_t max_size = 0) : max_size_(max_size) {}

  // Called by the client's thread.
  void push(Message m) {
    {
      std::lock_guard lock(mu_);
      if (max_size_ != 0 && items_.size() >= max_size_) {
        items_.pop_front();
        ++dropped_;
      }
      items_.push_back(std::move(m));
    }
    cv_.notify_one();
  }

  // Waits up to `timeout` for a message; nullopt when none came.
  std::optional<Message> pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !items_.empty(); })) return std::nullopt;
    Message m = std::move(items_.front());
    items_.pop_front();
    return m;
  }

  std::optional<Message> try_pop() { return pop(std::chrono::milliseconds(0)); }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  std::size_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> items_;
  std::size_t max_size_;
  std::size_t dropped_ = 0;
};

}  // namespace valtronics::client
