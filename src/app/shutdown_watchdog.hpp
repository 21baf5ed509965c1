// Bounds the drain after SIGTERM/SIGINT: server.shutdown_timeout after arm(), if the process is
// still draining (a client that never lets go, a database that refuses the last commits), it
// logs what was still pending and ends the process with config::kExitShutdownTimeout. A plain
// thread and a timed wait rather than an Asio timer: the drain is exactly when the I/O loops are
// stopping or blocked.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace valtronics::app {

class ShutdownWatchdog {
 public:
  // `pending` describes what is still unfinished, for the log line (called only on expiry).
  explicit ShutdownWatchdog(std::function<std::string()> pending);
  ~ShutdownWatchdog();  // disarms: the drain finished

  // Starts the countdown (once; later calls do nothing). Thread-safe.
  void arm(std::chrono::milliseconds timeout);
  // Drops `pending` (what it reads is about to be destroyed); the countdown goes on.
  void forget_pending();

 private:
  void watch(std::chrono::milliseconds timeout);

  std::function<std::string()> pending_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace valtronics::app
