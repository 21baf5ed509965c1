// Unit tests of store/reader (the history reader, issue 14): jobs run on the reader's threads,
// each with a connection of its own that sees what another connection committed; the queue
// refuses beyond its bound (unless `always`); a failing job is counted and the next one runs;
// stop() drops the jobs still waiting and refuses new ones.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "store/migrations.hpp"
#include "store/reader.hpp"
#include "support/temp_db_file.hpp"

namespace valtronics::store {
namespace {

using namespace std::chrono_literals;

class StoreReader : public ::testing::Test {
 protected:
  void SetUp() override {
    Database db = Database::open(file_.str());
    migrate(db);
    db.exec("CREATE TABLE t (v INTEGER NOT NULL)");
    db.exec("INSERT INTO t (v) VALUES (42)");
  }
  TempDbFile file_;
};

// A job that holds its thread until `release` is set, telling `started` when it runs.
Reader::Job holding(std::promise<void>& started, std::shared_future<void> release) {
  return [&started, release](Database&) {
    started.set_value();
    release.wait();
  };
}

TEST_F(StoreReader, JobsRunOnItsThreadsWithConnectionsOfTheirOwn) {
  Reader reader(file_.str(), 2, 8);
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::promise<void> both;
  int done = 0;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(reader.submit([&](Database& db) {
      Statement st = db.prepare("SELECT v FROM t");
      ASSERT_TRUE(st.step());
      EXPECT_EQ(st.column_int(0), 42);  // committed by the fixture's connection
      std::lock_guard lk(mu);
      threads.insert(std::this_thread::get_id());
      if (++done == 2) both.set_value();
    }));
  }
  ASSERT_EQ(both.get_future().wait_for(5s), std::future_status::ready);
  std::lock_guard lk(mu);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST_F(StoreReader, AFullQueueRefusesUnlessAlways) {
  Reader reader(file_.str(), 1, 2);
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  ASSERT_TRUE(reader.submit(holding(started, go)));
  ASSERT_EQ(started.get_future().wait_for(5s), std::future_status::ready);
  // The only thread is busy: two jobs may wait, the third is refused.
  std::atomic<int> ran{0};
  auto count = [&ran](Database&) { ++ran; };
  EXPECT_TRUE(reader.submit(count));
  EXPECT_TRUE(reader.submit(count));
  EXPECT_FALSE(reader.submit(count));
  EXPECT_EQ(reader.queued(), 2u);
  // An export's next piece is queued anyway.
  EXPECT_TRUE(reader.submit(count, true));
  EXPECT_EQ(reader.queued(), 3u);
  release.set_value();
  for (int i = 0; i < 500 && ran < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(ran.load(), 3);
  EXPECT_TRUE(reader.submit(count));  // room again
}

TEST_F(StoreReader, AFailingJobIsCountedAndTheNextOneRuns) {
  Reader reader(file_.str(), 1, 8);
  ASSERT_TRUE(reader.submit([](Database&) { throw std::runtime_error("boom"); }));
  std::promise<void> next;
  ASSERT_TRUE(reader.submit([&next](Database&) { next.set_value(); }));
  ASSERT_EQ(next.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(reader.failed_jobs(), 1u);
}

TEST_F(StoreReader, StopDropsWaitingJobsAndRefusesNewOnes) {
  Reader reader(file_.str(), 1, 8);
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  ASSERT_TRUE(reader.submit(holding(started, go)));
  ASSERT_EQ(started.get_future().wait_for(5s), std::future_status::ready);
  std::atomic<bool> waiting_ran{false};
  // Its captures are destroyed unrun: the shared state tells.
  auto token = std::make_shared<int>(0);
  std::weak_ptr<int> watch = token;
  ASSERT_TRUE(reader.submit([&waiting_ran, token](Database&) { waiting_ran = true; }));
  token.reset();
  std::thread stopper([&] { reader.stop(); });  // waits for the running job
  // Refused once stop() has taken the waiting jobs (one critical section); those accepted
  // before then wait behind the held thread and are dropped with the first.
  while (reader.submit([&waiting_ran](Database&) { waiting_ran = true; }))
    std::this_thread::sleep_for(1ms);
  release.set_value();
  stopper.join();
  EXPECT_FALSE(waiting_ran.load());
  EXPECT_TRUE(watch.expired());
  EXPECT_FALSE(reader.submit([](Database&) {}));
  EXPECT_FALSE(reader.submit([](Database&) {}, true));
}

}  // namespace
}  // namespace valtronics::store
