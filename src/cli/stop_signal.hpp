// SIGINT/SIGTERM for the client subcommands (listen, simulate): a flag set by the handler and
// polled by the main thread, which then stops cleanly (close frames, a final summary, exit 0).
// A flag rather than an asio::signal_set because these commands block in plain calls (a
// blocking HTTP POST, a future) on their main thread.
#pragma once

#include <chrono>

namespace valtronics::cli {

// Installs the handlers (once per process).
void install_stop_signals();

// True once SIGINT or SIGTERM arrived.
bool stop_requested();

// Sleeps up to `d`, returning early (true) when a stop is requested.
bool sleep_or_stop(std::chrono::milliseconds d);

}  // namespace valtronics::cli
