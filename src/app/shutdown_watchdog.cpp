// See shutdown_watchdog.hpp.
#include "app/shutdown_watchdog.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <utility>

#include "config/config.hpp"
#include "util/thread_name.hpp"

namespace valtronics::app {

ShutdownWatchdog::ShutdownWatchdog(std::function<std::string()> pending)
    : pending_(std::move(pending)) {}

ShutdownWatchdog::~ShutdownWatchdog() {
  {
    std::lock_guard lk(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ShutdownWatchdog::arm(std::chrono::milliseconds timeout) {
  std::lock_guard lk(mutex_);
  if (thread_.joinable() || done_) return;
  thread_ = std::thread([this, timeout] {
    util::name_this_thread("vt-watchdog");
    watch(timeout);
  });
}

void ShutdownWatchdog::forget_pending() {
  std::lock_guard lk(mutex_);
  pending_ = {};
}

void ShutdownWatchdog::watch(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mutex_);
  if (cv_.wait_for(lk, timeout, [this] { return done_; })) return;
  // Still under the lock: forget_pending() cannot run while `pending_` reads.
  const std::string pending = pending_ ? pending_() : std::string("the last handlers");
  spdlog::error("shutdown did not finish within server.shutdown_timeout ({} ms): {}; exiting "
                "with code {}",
                timeout.count(), pending, config::kExitShutdownTimeout);
  spdlog::default_logger()->flush();
  // The other threads are still inside the drain: run no destructors under them.
  std::_Exit(config::kExitShutdownTimeout);
}

}  // namespace valtronics::app
