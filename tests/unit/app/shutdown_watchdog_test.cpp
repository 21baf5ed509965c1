// (issue 10, durability) Tests of app/shutdown_watchdog: past its timeout the process exits
// with config::kExitShutdownTimeout after logging what was pending; disarmed in time (destroyed)
// it does nothing. Each case runs in a forked child, since the watchdog ends the process.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "app/shutdown_watchdog.hpp"
#include "config/config.hpp"

namespace valtronics::app {
namespace {

using namespace std::chrono_literals;

// Runs `body` in a child process; returns its exit status (-1 if it did not exit normally).
template <class F>
int exit_status_of(F body) {
  pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ShutdownWatchdog, ADrainPastTheTimeoutExitsWithTheDocumentedCode) {
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(exit_status_of([] {
              ShutdownWatchdog w([] { return std::string("2 database write(s) not committed"); });
              w.arm(100ms);
              std::this_thread::sleep_for(10s);  // a drain that never ends
            }),
            config::kExitShutdownTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(config::kExitShutdownTimeout, 3);
}

TEST(ShutdownWatchdog, ADrainThatFinishesInTimeIsLeftAlone) {
  EXPECT_EQ(exit_status_of([] {
              ShutdownWatchdog w([] { return std::string(); });
              w.arm(2s);
              w.arm(1ms);  // only the first arm counts
              w.forget_pending();
              std::this_thread::sleep_for(50ms);
            }),  // destroyed: disarmed
            0);
  EXPECT_EQ(exit_status_of([] { ShutdownWatchdog w({}); }), 0);  // never armed
}

}  // namespace
}  // namespace valtronics::app
