// The hub: one Shard per I/O thread and the publish path. Publishing stamps the event with an id,
// serializes it once, and appends one shared pointer to each shard's inbox (one post per shard
// when its inbox was empty): no global lock and no per-connection work on the publisher's side.
//
// It also counts ingest in flight (accepted by the engine, not yet published), so that an I/O
// thread about to write its sockets can wait for the events already on their way and write them
// in the same turn: a reading per request then costs a subscriber no more writes than a batch
// (docs/architecture.md, "Corked writes").
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "hub/event.hpp"
#include "hub/interest.hpp"
#include "metrics/counters.hpp"
#include "hub/shard.hpp"

namespace valtronics::hub {

class Hub {
 public:
  // One shard per context; shard i is only touched from contexts[i]'s thread.
  // `conflate_after`: limits.conflate_after (hub/shard.hpp).
  explicit Hub(std::vector<boost::asio::io_context*> contexts,
               std::chrono::milliseconds conflate_after = std::chrono::milliseconds::zero());

  // Thread-safe. Takes ownership of `body`, returns the published event (id assigned, on the
  // body's channel).
  EventPtr publish(model::EventBody body);

  // Publishes several events as one unit: appended to each inbox together, so every connection
  // receives them in one loop turn (and one socket write). Order is kept.
  void publish_many(std::vector<model::EventBody> bodies);

  // ---- a cluster node (issue 12; cluster/node.hpp)
  // Everything published here (publish, publish_many) is also handed to `e`, in publish order,
  // on the publishing thread; what publish_remote delivers is not. Counts what the connections
  // subscribe to in interest(). Call once, before the I/O threads run.
  using Export = std::function<void(std::span<const EventPtr>)>;
  void enable_cluster(Export e);
  // Delivers events another node published, as publish_many does, without exporting them.
  void publish_remote(std::vector<model::EventBody> bodies);
  const Interest& interest() const { return interest_; }

  Shard& shard(std::size_t i) { return *shards_[i]; }
  std::size_t shard_count() const { return shards_.size(); }
  std::uint64_t published() const { return next_id_.load(std::memory_order_relaxed) - 1; }
  // Telemetry updates absorbed by conflation, summed over the shards.
  std::uint64_t conflated() const;

  // ---- ingest in flight
  // Held by an ingest from the moment the engine accepts it until its events are published and
  // it is answered (or it failed): the ticket's end is what a waiting shard waits for.
  class IngestTicket {
   public:
    IngestTicket() = default;
    IngestTicket(IngestTicket&& o) noexcept
        : hub_(std::exchange(o.hub_, nullptr)), started_(o.started_) {}
    IngestTicket& operator=(IngestTicket&&) = delete;
    ~IngestTicket() {
      if (!hub_) return;
      // The ingest-to-enqueue latency (GET /metrics): handed to the engine until its updates
      // were queued for the I/O threads (or it was refused).
      metrics::observe(metrics::Histogram::ingest_to_enqueue,
                       std::chrono::steady_clock::now() - started_);
      hub_->finish_ingest();
    }

   private:
    friend class Hub;
    explicit IngestTicket(Hub* hub) : hub_(hub), started_(std::chrono::steady_clock::now()) {}
    Hub* hub_ = nullptr;
    std::chrono::steady_clock::time_point started_{};
  };
  IngestTicket start_ingest();
  bool ingest_in_flight() const { return in_flight_.load() > 0; }

  // Shard i's thread, about to write with ingest in flight: true when it should wait, and then
  // the shard's wake (Shard::set_wake) runs once no ingest is in flight, unless unpark(i) took
  // the wait back first. False: nothing is in flight any more, write now.
  bool park(std::size_t i);
  // True when shard i was parked and is not any more: the caller writes (its wake will not run).
  bool unpark(std::size_t i) { return shards_[i]->parked_.exchange(false); }

 private:
  void deliver(std::span<const EventPtr> events);
  std::vector<EventPtr> stamp(std::vector<model::EventBody> bodies);
  void finish_ingest();

  std::vector<boost::asio::io_context*> contexts_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::int64_t> in_flight_{0};
  Interest interest_;
  Export export_;
};

}  // namespace valtronics::hub
