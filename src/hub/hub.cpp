// Publish: id, one serialization, one append per shard inbox. Ingest in flight: a counter, and a
// wake for each shard that waits on it.
#include "hub/hub.hpp"

#include <boost/asio/post.hpp>

#include "protocol/serialize.hpp"

namespace valtronics::hub {

Hub::Hub(std::vector<boost::asio::io_context*> contexts, std::chrono::milliseconds conflate_after)
    : contexts_(std::move(contexts)) {
  for (std::size_t i = 0; i < contexts_.size(); ++i)
    shards_.push_back(std::make_unique<Shard>(conflate_after));
}

namespace {
EventPtr make_event(std::uint64_t id, model::EventBody body,
                    std::chrono::steady_clock::time_point now) {
  auto ev = std::make_shared<Event>();
  ev->id = id;
  ev->channel = model::channel_of(body);
  ev->body = std::move(body);
  ev->full_bytes = std::make_shared<const std::string>(protocol::serialize_event(ev->body));
  ev->published_at = now;
  return ev;
}
}  // namespace

void Hub::deliver(std::span<const EventPtr> events) {
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (!shards_[i]->enqueue(events)) continue;  // a drain is already on its way
    boost::asio::post(*contexts_[i], [shard = shards_[i].get()] {
      shard->drain(std::chrono::steady_clock::now());
    });
  }
}

EventPtr Hub::publish(model::EventBody body) {
  EventPtr shared = make_event(next_id_.fetch_add(1, std::memory_order_relaxed), std::move(body),
                               std::chrono::steady_clock::now());
  deliver({&shared, 1});
  if (export_) export_({&shared, 1});
  return shared;
}

std::vector<EventPtr> Hub::stamp(std::vector<model::EventBody> bodies) {
  std::vector<EventPtr> events;
  events.reserve(bodies.size());
  const auto first = next_id_.fetch_add(bodies.size(), std::memory_order_relaxed);
  const auto now = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < bodies.size(); ++i)
    events.push_back(make_event(first + i, std::move(bodies[i]), now));
  return events;
}

void Hub::publish_many(std::vector<model::EventBody> bodies) {
  if (bodies.empty()) return;
  const auto events = stamp(std::move(bodies));
  deliver(events);
  if (export_) export_(events);
}

void Hub::publish_remote(std::vector<model::EventBody> bodies) {
  if (bodies.empty()) return;
  deliver(stamp(std::move(bodies)));
}

void Hub::enable_cluster(Export e) {
  export_ = std::move(e);
  for (auto& s : shards_) s->set_interest(&interest_);
}

std::uint64_t Hub::conflated() const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->conflated();
  return n;
}

Hub::IngestTicket Hub::start_ingest() {
  in_flight_.fetch_add(1);
  return IngestTicket(this);
}

// Sequentially consistent on both sides: a shard sets parked_ then reads in_flight_, the last
// finisher lowers in_flight_ then reads parked_, so at least one of them sees the other and the
// shard is never left waiting with nothing in flight.
void Hub::finish_ingest() {
  if (in_flight_.fetch_sub(1) != 1) return;
  for (auto& s : shards_)
    if (s->parked_.exchange(false) && s->wake_) s->wake_();
}

bool Hub::park(std::size_t i) {
  auto& s = *shards_[i];
  s.parked_.store(true);
  if (in_flight_.load() > 0) return true;
  // The last ingest finished meanwhile: take the wait back, unless its finisher already took it
  // (then the wake is on its way and must be the one that writes).
  return !s.parked_.exchange(false);
}

}  // namespace valtronics::hub
