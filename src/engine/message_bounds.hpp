// The largest single message the server stores and must deliver whole: an alert frame (live or
// in a since_alert_id replay) or a device status update. These are never dropped or conflated:
// one that does not fit a connection's limits.max_outbound_bytes closes it with 4009, and a
// client resuming below it would be closed again on every attempt (issue 10, defect 3). Every
// part of them is bounded (config/limits.hpp, "stored text"; engine/alert_text), so the largest
// is computed here, by serializing the worst case with the real serializer, and start-up refuses
// a budget below it.
#pragma once

#include <cstddef>

namespace valtronics::engine {

// Bytes of the largest stored message as queued for a connection: its payload with the
// connection's `,"seq":N` and the frame header.
std::size_t largest_stored_message_bytes();

}  // namespace valtronics::engine
