// The hub's event: an immutable domain event body (model/events.hpp) stamped with its id and
// channel, and its full serialization. An event is created once at publish, shared by pointer
// with every shard, and serialized once per distinct projection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "model/enums.hpp"
#include "model/events.hpp"

namespace valtronics::hub {

struct Event {
  std::uint64_t id = 0;              // set by the hub at publish: strictly increasing
  model::Channel channel{};          // model::channel_of(body)
  model::EventBody body;
  // Full serialization (no projection), made once at publish and shared by every receiver.
  std::shared_ptr<const std::string> full_bytes;
  // When it was published: a shard that finds it waited longer than limits.conflate_after is
  // behind, and conflates telemetry (hub/conflation.hpp).
  std::chrono::steady_clock::time_point published_at{};
  // The updates it stands for: 1, or n > 1 for a telemetry event a shard merged from n updates
  // of one device (sent with `"conflated":n`).
  std::uint32_t merged = 1;

  std::int64_t device_id() const { return model::device_of(body); }  // 0 for system events
};

using EventPtr = std::shared_ptr<const Event>;

}  // namespace valtronics::hub
