// Publish: id, one serialization, one post per shard.
#include "hub/hub.hpp"

#include <boost/asio/post.hpp>

#include "protocol/serialize.hpp"

namespace valtronics::hub {

Hub::Hub(std::vector<boost::asio::io_context*> contexts) : contexts_(std::move(contexts)) {
  for (std::size_t i = 0; i < contexts_.size(); ++i) shards_.push_back(std::make_unique<Shard>());
}

EventPtr Hub::publish(protocol::Channel channel, EventBody body) {
  auto ev = std::make_shared<Event>();
  ev->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  ev->channel = channel;
  ev->body = std::move(body);
  ev->full_bytes = std::make_shared<const std::string>(protocol::serialize_event(*ev));
  EventPtr shared = std::move(ev);
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    boost::asio::post(*contexts_[i], [shard = shards_[i].get(), shared] { shard->dispatch(shared); });
  }
  return shared;
}

}  // namespace valtronics::hub
