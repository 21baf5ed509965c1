// Pausing I/O threads for a change they must not see half-made (a configuration reload's live
// keys): each other thread's io_context runs a handler that parks until the change is done.
// Kept apart from net::Server so that its two outcomes (all parked, or one did not park in time)
// can be tested with plain io_contexts and threads.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <vector>

namespace valtronics::net {

// Runs `change` on the calling thread while a handler posted to each of `others` is parked, so
// nothing those threads run before or after overlaps it (a mutex orders `change` before what
// they run next). True once `change` ran. False, and `change` not run, when some thread did not
// park within `wait` (stuck in a long handler, or no longer running its loop); such a thread
// passes the gate without waiting whenever it gets to it, so it is never left parked.
// Call it from a thread that is none of `others`, or it waits `wait` and fails.
bool run_with_others_parked(const std::vector<boost::asio::io_context*>& others,
                            const std::function<void()>& change, std::chrono::milliseconds wait);

}  // namespace valtronics::net
