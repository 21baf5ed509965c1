// SIGHUP runs every registered reload callback, in order, on the io_context's thread; a
// callback that throws does not stop the ones after it; stop() ends the handling.

#include "app/reload_signal.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

namespace valtronics::app {
namespace {

TEST(ReloadSignalTest, SighupRunsEveryCallbackInOrder) {
  boost::asio::io_context ioc;
  ReloadSignal reload(ioc);
  std::vector<std::string> ran;
  reload.on_reload("first", [&] { ran.push_back("first"); });
  reload.on_reload("broken", [&] {
    ran.push_back("broken");
    throw std::runtime_error("bad file");
  });
  reload.on_reload("last", [&] { ran.push_back("last"); });
  reload.start();
  // Runs handlers (asio's signal pipe reader first, then ours) until the callbacks ran.
  auto run_until = [&](std::size_t n) {
    for (int i = 0; i < 20 && ran.size() < n; ++i) ioc.run_one_for(std::chrono::milliseconds(100));
  };
  ASSERT_EQ(::raise(SIGHUP), 0);
  run_until(3);
  EXPECT_EQ(ran, (std::vector<std::string>{"first", "broken", "last"}));
  // Re-armed: a second SIGHUP runs them again.
  ASSERT_EQ(::raise(SIGHUP), 0);
  run_until(6);
  EXPECT_EQ(ran.size(), 6u);
  reload.stop();
  ioc.restart();
  ioc.poll();
}

TEST(ReloadSignalTest, ReloadAllWithoutASignal) {
  boost::asio::io_context ioc;
  ReloadSignal reload(ioc);
  int n = 0;
  reload.on_reload("count", [&] { ++n; });
  reload.reload_all();
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace valtronics::app
