// Publish: id, one serialization, one post per shard.
#include "hub/hub.hpp"

#include <boost/asio/post.hpp>

#include "protocol/serialize.hpp"

namespace valtronics::hub {

Hub::Hub(std::vector<boost::asio::io_context*> contexts) : contexts_(std::move(contexts)) {
  for (std::size_t i = 0; i < contexts_.size(); ++i) shards_.push_back(std::make_unique<Shard>());
}

namespace {
EventPtr make_event(std::uint64_t id, model::EventBody body) {
  auto ev = std::make_shared<Event>();
  ev->id = id;
  ev->channel = model::channel_of(body);
  ev->body = std::move(body);
  ev->full_bytes = std::make_shared<const std::string>(protocol::serialize_event(ev->body));
  return ev;
}
}  // namespace

EventPtr Hub::publish(model::EventBody body) {
  EventPtr shared = make_event(next_id_.fetch_add(1, std::memory_order_relaxed), std::move(body));
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    shards_[i]->posted();
    boost::asio::post(*contexts_[i], [shard = shards_[i].get(), shared] {
      shard->ran();
      shard->dispatch(shared);
    });
  }
  return shared;
}

void Hub::publish_many(std::vector<model::EventBody> bodies) {
  if (bodies.empty()) return;
  auto events = std::make_shared<std::vector<EventPtr>>();
  events->reserve(bodies.size());
  const auto first = next_id_.fetch_add(bodies.size(), std::memory_order_relaxed);
  for (std::size_t i = 0; i < bodies.size(); ++i)
    events->push_back(make_event(first + i, std::move(bodies[i])));
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    shards_[i]->posted();
    boost::asio::post(*contexts_[i], [shard = shards_[i].get(), events] {
      shard->ran();
      for (const auto& e : *events) shard->dispatch(e);
    });
  }
}

}  // namespace valtronics::hub
