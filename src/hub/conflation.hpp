// Conflation of a shard's backlog: when fan-out falls behind ingest, the telemetry updates of one
// device waiting together become one update carrying the latest value of each metric, so that a
// dashboard gets the newest value now instead of every old one later. Alerts, device status and
// system events are never merged or dropped, and keep their order.
#pragma once

#include <cstddef>
#include <vector>

#include "hub/event.hpp"

namespace valtronics::hub {

// Replaces, in `events` (in publication order), the telemetry events of each device that occurs
// more than once by one event at the position of its last: the latest reading of each metric
// (a later reading of a metric replaces an earlier one, metrics keep the order they first
// appeared in), the id of the last, `merged` the sum of theirs, serialized anew. Everything else
// stays where it was. Returns how many updates were absorbed (events in minus events out).
std::size_t conflate_telemetry(std::vector<EventPtr>& events);

}  // namespace valtronics::hub
