// The hub: one Shard per I/O thread and the publish path. Publishing stamps the event with an id,
// serializes it once, and posts one shared pointer to each shard's thread: no global lock and no
// per-connection work on the publisher's side.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "hub/event.hpp"
#include "hub/shard.hpp"

namespace valtronics::hub {

class Hub {
 public:
  // One shard per context; shard i is only touched from contexts[i]'s thread.
  explicit Hub(std::vector<boost::asio::io_context*> contexts);

  // Thread-safe. Takes ownership of `body`, returns the published event (id assigned, on the
  // body's channel).
  EventPtr publish(model::EventBody body);

  // Publishes several events as one unit: one post per shard for all of them, so every
  // connection receives them in one loop turn (and one socket write). Order is kept.
  void publish_many(std::vector<model::EventBody> bodies);

  Shard& shard(std::size_t i) { return *shards_[i]; }
  std::uint64_t published() const { return next_id_.load(std::memory_order_relaxed) - 1; }

 private:
  std::vector<boost::asio::io_context*> contexts_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace valtronics::hub
