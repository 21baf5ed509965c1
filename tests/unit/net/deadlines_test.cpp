// The per-thread deadline queue that replaced one timer per connection.
#include "net/deadlines.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using valtronics::net::DeadlineOwner;
using valtronics::net::Deadlines;
using Clock = Deadlines::Clock;
using namespace std::chrono_literals;

struct Owner : DeadlineOwner {
  std::string name;
  std::vector<std::string>* log;
  std::function<void()> then;  // runs inside on_deadline (e.g. to schedule the next phase)
  Owner(std::string n, std::vector<std::string>* l) : name(std::move(n)), log(l) {}
  void on_deadline() override {
    log->push_back(name);
    if (then) then();
  }
};

struct DeadlinesTest : testing::Test {
  boost::asio::io_context ioc;
  Deadlines deadlines{&ioc};
  std::vector<std::string> log;
  Clock::time_point t0 = Clock::now() + 1h;  // far enough that the timer never fires by itself
  ~DeadlinesTest() override { deadlines.stop(); }
};

TEST_F(DeadlinesTest, RunsDueDeadlinesEarliestFirstAndOnlyOnce) {
  Owner a("a", &log), b("b", &log), c("c", &log);
  deadlines.schedule(a, t0 + 3s);
  deadlines.schedule(b, t0 + 1s);
  deadlines.schedule(c, t0 + 2s);
  deadlines.run_due(t0 + 2s);
  EXPECT_EQ(log, (std::vector<std::string>{"b", "c"}));
  EXPECT_FALSE(deadlines.scheduled(b));
  EXPECT_TRUE(deadlines.scheduled(a));
  deadlines.run_due(t0 + 10s);
  EXPECT_EQ(log, (std::vector<std::string>{"b", "c", "a"}));
  deadlines.run_due(t0 + 20s);
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(deadlines.size(), 0u);
}

TEST_F(DeadlinesTest, ScheduleReplacesTheOwnersDeadlineInPlace) {
  Owner a("a", &log), b("b", &log);
  deadlines.schedule(a, t0 + 1s);
  deadlines.schedule(b, t0 + 2s);
  deadlines.schedule(a, t0 + 5s);  // later: b now comes first
  EXPECT_EQ(deadlines.size(), 2u);  // replaced, not added
  deadlines.run_due(t0 + 3s);
  EXPECT_EQ(log, (std::vector<std::string>{"b"}));
  deadlines.schedule(a, t0 + 4s);  // earlier again
  deadlines.run_due(t0 + 4s);
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a"}));
}

TEST_F(DeadlinesTest, CancelledOwnersNeverRunAndLeaveNothingBehind) {
  std::vector<std::unique_ptr<Owner>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(std::make_unique<Owner>(std::to_string(i), &log));
    deadlines.schedule(*owners.back(), t0 + std::chrono::seconds(i));
  }
  for (int i = 0; i < 10; i += 2) deadlines.cancel(*owners[i]);
  deadlines.cancel(*owners[0]);  // twice: harmless
  EXPECT_EQ(deadlines.size(), 5u);
  owners[0].reset();  // an ended owner is simply gone
  deadlines.run_due(t0 + 1h);
  EXPECT_EQ(log, (std::vector<std::string>{"1", "3", "5", "7", "9"}));
}

TEST_F(DeadlinesTest, AnOwnerMaySetItsNextDeadlineFromItsCallback) {
  Owner a("warning", &log);
  a.then = [&] {
    a.name = "expiry";
    a.then = nullptr;
    deadlines.schedule(a, t0 + 2s);
  };
  deadlines.schedule(a, t0 + 1s);
  deadlines.run_due(t0 + 1s);
  EXPECT_EQ(log, (std::vector<std::string>{"warning"}));
  EXPECT_TRUE(deadlines.scheduled(a));
  deadlines.run_due(t0 + 2s);
  EXPECT_EQ(log, (std::vector<std::string>{"warning", "expiry"}));
}

TEST_F(DeadlinesTest, KeepsHeapOrderUnderRandomScheduleAndCancel) {
  std::mt19937 rng(7);
  std::vector<std::unique_ptr<Owner>> owners;
  std::vector<std::string> order;
  for (int i = 0; i < 300; ++i) owners.push_back(std::make_unique<Owner>(std::to_string(i), &order));
  std::vector<int> due(owners.size(), -1);  // the model: seconds after t0, -1 = none
  for (int step = 0; step < 3000; ++step) {
    auto i = rng() % owners.size();
    if (rng() % 4 == 0) {
      deadlines.cancel(*owners[i]);
      due[i] = -1;
    } else {
      due[i] = static_cast<int>(rng() % 1000);
      deadlines.schedule(*owners[i], t0 + std::chrono::seconds(due[i]));
    }
  }
  deadlines.run_due(t0 + 1000s);
  std::vector<int> seen;
  for (const auto& n : order) seen.push_back(due[std::stoi(n)]);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(order.size(), static_cast<std::size_t>(std::count_if(due.begin(), due.end(),
                                                                   [](int d) { return d >= 0; })));
}

TEST_F(DeadlinesTest, TheTimerFiresDueDeadlinesOnTheIoContext) {
  Owner a("a", &log), b("b", &log), c("c", &log);
  deadlines.schedule(a, Clock::now() + 20ms);
  deadlines.schedule(b, Clock::now() + 5ms);  // earlier: re-arms the timer
  deadlines.schedule(c, Clock::now() + 30ms);
  deadlines.cancel(c);
  ioc.run_for(500ms);  // returns once nothing is left to wait for
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a"}));
}

}  // namespace
