// Stop signals for the client subcommands; see stop_signal.hpp.
#include "cli/stop_signal.hpp"

#include <csignal>
#include <thread>

namespace valtronics::cli {

namespace {
volatile std::sig_atomic_t g_stop = 0;

void on_stop_signal(int) { g_stop = 1; }
}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() { return g_stop != 0; }

bool sleep_or_stop(std::chrono::milliseconds d) {
  // 50 ms steps: a Ctrl-C is obeyed at once to the eye, and the loop costs nothing.
  const auto end = std::chrono::steady_clock::now() + d;
  while (!stop_requested()) {
    auto left = end - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        left, std::chrono::milliseconds(50)));
  }
  return true;
}

}  // namespace valtronics::cli
