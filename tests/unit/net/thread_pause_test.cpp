// Pausing the other I/O threads around a live configuration change (net/thread_pause): the
// change runs only while every other thread is parked, and a thread that cannot park in time
// makes it fail without running the change and without leaving that thread parked later.
#include "net/thread_pause.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <atomic>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
using valtronics::net::run_with_others_parked;
using namespace std::chrono_literals;

// io_contexts each run by a thread of its own until the fixture ends, as the I/O threads are.
struct Loops {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;

  explicit Loops(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) contexts.push_back(std::make_unique<asio::io_context>());
    for (auto& c : contexts) {
      guards.push_back(asio::make_work_guard(*c));
      threads.emplace_back([ctx = c.get()] { ctx->run(); });
    }
  }
  ~Loops() {
    guards.clear();
    for (auto& t : threads) t.join();
  }
  std::vector<asio::io_context*> pointers() {
    std::vector<asio::io_context*> out;
    for (auto& c : contexts) out.push_back(c.get());
    return out;
  }
  // Blocks until every handler posted to `i` before this call has run.
  void settle(std::size_t i) {
    std::promise<void> done;
    asio::post(*contexts[i], [&] { done.set_value(); });
    done.get_future().wait();
  }
};

TEST(ThreadPause, ChangeRunsWhileEveryOtherThreadIsParked) {
  Loops loops(2);
  std::atomic<int> ran_during_change{0};
  bool changed = false;
  const bool ok = run_with_others_parked(
      loops.pointers(),
      [&] {
        // Work given to the parked threads now must wait for the change to end.
        for (auto* c : loops.pointers()) asio::post(*c, [&] { ++ran_during_change; });
        std::this_thread::sleep_for(50ms);
        EXPECT_EQ(ran_during_change.load(), 0);
        changed = true;
      },
      2s);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(changed);
  loops.settle(0);
  loops.settle(1);
  EXPECT_EQ(ran_during_change.load(), 2);  // released afterwards
}

TEST(ThreadPause, AThreadBusyPastTheWaitFailsItWithoutTheChange) {
  Loops loops(2);
  std::promise<void> release;
  auto released = release.get_future().share();
  asio::post(*loops.contexts[1], [released] { released.wait(); });  // stuck in a long handler
  bool changed = false;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(run_with_others_parked(loops.pointers(), [&] { changed = true; }, 100ms));
  EXPECT_FALSE(changed);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 100ms);
  // Thread 0 was parked and is free again; thread 1, once out of its handler, passes the gate
  // (already open) instead of parking for good.
  loops.settle(0);
  release.set_value();
  loops.settle(1);
}

TEST(ThreadPause, NoOtherThreadRunsTheChangeAtOnce) {
  bool changed = false;
  EXPECT_TRUE(run_with_others_parked({}, [&] { changed = true; }, 0ms));
  EXPECT_TRUE(changed);
}

}  // namespace
