// Unit tests of store/writer: submission order, callbacks after commit (seen by
// a second connection), batching into few transactions, a failing operation
// that does not fail the others, flush, draining on destruction, and an alert
// surviving a SIGKILL of the process.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_db_file.hpp"
#include "store/migrations.hpp"
#include "store/repositories.hpp"
#include "store/writer.hpp"

namespace valtronics::store {
namespace {

using namespace std::chrono_literals;


class StoreWriter : public ::testing::Test {
 protected:
  void SetUp() override {
    Database db = Database::open(file_.str());
    migrate(db);
    db.exec("CREATE TABLE log (seq INTEGER PRIMARY KEY, value INTEGER NOT NULL)");
  }

  static Writer::Op insert_log(int seq) {
    return [seq](Database& db) {
      Statement st = db.prepare("INSERT INTO log (seq, value) VALUES (?, ?)");
      st.bind(1, seq).bind(2, seq * 10).run();
    };
  }

  std::vector<std::int64_t> logged() {
    Database db = Database::open(file_.str());
    Statement st = db.prepare("SELECT seq FROM log ORDER BY seq");
    std::vector<std::int64_t> out;
    while (st.step()) out.push_back(st.column_int(0));
    return out;
  }

  // Occupies the writer thread until release() so that what is submitted next
  // is queued together and taken as one batch.
  struct Gate {
    std::promise<void> entered, open;
    std::shared_future<void> opened{open.get_future().share()};
    void submit_to(Writer& w) {
      w.submit([this](Database&) {
        entered.set_value();
        opened.wait();
      });
      entered.get_future().wait();
    }
    void release() { open.set_value(); }
  };

  TempDbFile file_;
};

TEST_F(StoreWriter, RunsOperationsAndCallbacksInSubmissionOrder) {
  std::vector<int> done_order;
  {
    Writer w(file_.str());
    for (int i = 0; i < 200; ++i)
      w.submit(insert_log(i), [&done_order, i](bool ok) {
        EXPECT_TRUE(ok);
        done_order.push_back(i);  // only the writer thread touches it
      });
    w.flush();
    EXPECT_EQ(w.committed_ops(), 200u);
  }
  std::vector<std::int64_t> expected;
  for (int i = 0; i < 200; ++i) expected.push_back(i);
  EXPECT_EQ(logged(), expected);
  ASSERT_EQ(done_order.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(done_order[i], i);
}

TEST_F(StoreWriter, DoneRunsAfterCommitSoAnotherConnectionSeesTheRow) {
  Writer w(file_.str());
  auto id = std::make_shared<std::int64_t>(0);
  std::promise<std::optional<model::Alert>> seen;
  model::Alert a;
  a.device_id = 3;
  a.severity = model::Severity::critical;
  a.alert_type = model::AlertType::threshold;
  a.title = "t";
  a.timestamp = util::Clock::now();
  w.submit([a, id](Database& db) { *id = insert_alert(db, a); },
           [this, id, &seen](bool ok) {
             EXPECT_TRUE(ok);
             Database other = Database::open(file_.str());
             seen.set_value(get_alert(other, *id));
           });
  auto got = seen.get_future().get();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->device_id, 3);
  EXPECT_EQ(got->severity, model::Severity::critical);
}

TEST_F(StoreWriter, QuickSubmitsAreBatchedIntoFewTransactions) {
  Writer w(file_.str());
  Gate gate;
  gate.submit_to(w);
  for (int i = 0; i < 1000; ++i) w.submit(insert_log(i));
  gate.release();
  w.flush();
  EXPECT_EQ(w.committed_ops(), 1001u);
  // The gate's own transaction, then the 1000 queued ops in one (kMaxBatch).
  EXPECT_EQ(w.transactions(), 2u);
  EXPECT_EQ(logged().size(), 1000u);

  // Without a gate: still far fewer transactions than operations.
  auto before = w.transactions();
  for (int i = 1000; i < 3000; ++i) w.submit(insert_log(i));
  w.flush();
  EXPECT_EQ(w.committed_ops(), 3001u);
  EXPECT_LT(w.transactions() - before, 200u);
  EXPECT_EQ(logged().size(), 3000u);
}

TEST_F(StoreWriter, BatchesAreCappedAtMaxBatch) {
  Writer w(file_.str());
  Gate gate;
  gate.submit_to(w);
  for (int i = 0; i < 2500; ++i) w.submit(insert_log(i));
  gate.release();
  w.flush();
  EXPECT_EQ(w.transactions(), 1u + 3u);  // 1000 + 1000 + 500
}

// Group commit (Writer::kGroupCommitInterval): operations arriving one by one soon after a
// commit wait for the rest of the interval and share one transaction. The intervals here are
// long (seconds) so that no timing of this machine decides an outcome; the time bounds checked
// are far from them.
TEST_F(StoreWriter, OperationsSoonAfterACommitShareTheNextTransaction) {
  Writer w(file_.str());
  w.set_group_commit_interval(1s);
  w.submit(insert_log(0));
  w.flush();
  EXPECT_EQ(w.transactions(), 1u);
  // Three operations one by one, apart: without group commit each could be a turn of its own.
  for (int i = 1; i <= 3; ++i) {
    w.submit(insert_log(i));
    std::this_thread::sleep_for(20ms);
  }
  w.flush();
  EXPECT_EQ(w.committed_ops(), 4u);
  EXPECT_EQ(w.transactions(), 2u);
  EXPECT_EQ(logged(), (std::vector<std::int64_t>{0, 1, 2, 3}));
}

TEST_F(StoreWriter, AfterAQuietSpellOrWithAFullBatchNothingWaitsForTheInterval) {
  Writer w(file_.str());
  w.set_group_commit_interval(std::chrono::minutes(10));
  // The first operation follows a quiet spell (the start): committed at once.
  auto started = std::chrono::steady_clock::now();
  w.submit(insert_log(0));
  w.flush();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
  // A full batch does not wait for the interval either.
  started = std::chrono::steady_clock::now();
  for (int i = 1; i <= static_cast<int>(Writer::kMaxBatch); ++i) w.submit(insert_log(i));
  w.flush();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
  EXPECT_EQ(w.transactions(), 2u);
  EXPECT_EQ(w.committed_ops(), Writer::kMaxBatch + 1);
}

TEST_F(StoreWriter, APromptOperationIsNotHeldAndTakesTheWaitingOnesAlong) {
  Writer w(file_.str());
  w.set_group_commit_interval(std::chrono::minutes(10));
  w.submit(insert_log(0));
  w.flush();
  // Grouped: waits out the interval. Prompt (somebody waits for its commit): ends the wait, and
  // the grouped one before it commits in the same transaction, first.
  std::promise<void> grouped_done;
  w.submit(insert_log(1), [&](bool ok) {
    EXPECT_TRUE(ok);
    grouped_done.set_value();
  });
  std::this_thread::sleep_for(20ms);
  std::promise<bool> prompt_done;
  const auto started = std::chrono::steady_clock::now();
  w.submit(insert_log(2), [&](bool ok) { prompt_done.set_value(ok); },
           Writer::Commit::prompt);
  auto done = prompt_done.get_future();
  ASSERT_EQ(done.wait_for(60s), std::future_status::ready);
  EXPECT_TRUE(done.get());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
  EXPECT_EQ(grouped_done.get_future().wait_for(0s), std::future_status::ready);
  w.flush();  // the counters are updated after the callbacks
  EXPECT_EQ(w.transactions(), 2u);
  EXPECT_EQ(logged(), (std::vector<std::int64_t>{0, 1, 2}));
}

TEST_F(StoreWriter, StoppingEndsTheGroupCommitWaitAndCommitsWhatWaited) {
  std::atomic<int> done{0};
  const auto started = std::chrono::steady_clock::now();
  {
    Writer w(file_.str());
    w.set_group_commit_interval(std::chrono::minutes(10));
    w.submit(insert_log(0));
    w.flush();
    w.submit(insert_log(1), [&done](bool ok) { done += ok; });  // waits out the interval...
  }  // ...until the destructor
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s);
  EXPECT_EQ(done.load(), 1);
  EXPECT_EQ(logged(), (std::vector<std::int64_t>{0, 1}));
}

TEST_F(StoreWriter, AFailingOperationDoesNotLoseTheOthers) {
  Writer w(file_.str());
  std::vector<int> results;  // 1 ok, 0 failed, in done order
  auto record = [&results](bool ok) { results.push_back(ok ? 1 : 0); };
  Gate gate;
  gate.submit_to(w);
  w.submit(insert_log(1), record);
  // Writes a row, then fails: its row must be rolled back.
  w.submit(
      [](Database& db) {
        insert_log(2)(db);
        insert_log(1)(db);  // duplicate primary key
      },
      record);
  w.submit(insert_log(3), record);
  w.submit([](Database&) { throw std::runtime_error("not a StoreError"); }, record);
  w.submit(insert_log(4), record);
  gate.release();
  w.flush();
  EXPECT_EQ(results, (std::vector<int>{1, 0, 1, 0, 1}));
  EXPECT_EQ(logged(), (std::vector<std::int64_t>{1, 3, 4}));
  EXPECT_EQ(w.committed_ops(), 1u + 3u);
  // The writer keeps working afterwards.
  std::promise<bool> later;
  w.submit(insert_log(5), [&later](bool ok) { later.set_value(ok); });
  EXPECT_TRUE(later.get_future().get());
}

// (issue 10, durability) A batch the storage refuses (disk full here: an operation throwing the
// StoreError SQLite gives then; tests/integration/test_durability.py fills a real tmpfs) is
// kept and attempted again until it commits: nothing queued is lost, each callback says ok, and
// health() reports the outage while it lasts.
TEST_F(StoreWriter, KeepsABatchTheStorageRefusesAndCommitsItOnceTheStorageRecovers) {
  Writer w(file_.str());
  std::atomic<int> refusals{2};
  std::atomic<int> oks{0};
  auto record = [&oks](bool ok) {
    if (ok) ++oks;
  };
  Gate gate;
  gate.submit_to(w);
  w.submit(insert_log(1), record);
  w.submit(
      [&refusals](Database& db) {
        insert_log(2)(db);  // written, then rolled back with the batch while refused
        if (refusals.fetch_sub(1) > 0)
          throw StoreError("sqlite: database or disk is full", SQLITE_FULL);
      },
      record);
  w.submit(insert_log(3), record);
  EXPECT_TRUE(w.available());
  gate.release();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (w.available() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  Writer::Health during = w.health();
  EXPECT_FALSE(during.available);
  EXPECT_NE(during.last_error.find("disk is full"), std::string::npos) << during.last_error;
  EXPECT_EQ(during.queued, 3u);  // the batch being retried
  w.flush();
  EXPECT_EQ(oks.load(), 3);
  EXPECT_EQ(logged(), (std::vector<std::int64_t>{1, 2, 3}));
  Writer::Health after = w.health();
  EXPECT_TRUE(after.available);
  EXPECT_EQ(after.retries, 2u);
  EXPECT_EQ(after.queued, 0u);
}

// A real lock held by another connection: the same, with SQLite's own SQLITE_BUSY (after the
// writer's 5 s busy timeout, so this test takes about 6 s).
TEST_F(StoreWriter, KeepsABatchWhileAnotherProcessHoldsTheLockAndCommitsItAfter) {
  SKIP_UNLESS_SQLITE();  // SQLite's database-wide write lock
  Database other = Database::open(file_.str());
  auto lock = std::make_unique<Transaction>(other);
  other.exec("INSERT INTO log (seq, value) VALUES (100, 0)");
  Writer w(file_.str());
  std::promise<bool> done;
  w.submit(insert_log(1), [&done](bool ok) { done.set_value(ok); });
  auto result = done.get_future();
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (w.available() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(w.available());
  EXPECT_NE(w.health().last_error.find("locked"), std::string::npos) << w.health().last_error;
  EXPECT_EQ(result.wait_for(0s), std::future_status::timeout);
  lock->commit();
  lock.reset();
  ASSERT_EQ(result.wait_for(15s), std::future_status::ready);
  EXPECT_TRUE(result.get());
  EXPECT_TRUE(w.available());
  EXPECT_EQ(logged(), (std::vector<std::int64_t>{1, 100}));
}

TEST_F(StoreWriter, FlushWaitsForEverythingSubmittedBefore) {
  Writer w(file_.str());
  std::atomic<int> done{0};
  for (int i = 0; i < 5; ++i) {
    w.submit(
        [i](Database& db) {
          std::this_thread::sleep_for(10ms);
          insert_log(i)(db);
        },
        [&done](bool) { ++done; });
  }
  w.flush();
  EXPECT_EQ(done.load(), 5);
  EXPECT_EQ(logged().size(), 5u);
  w.flush();  // nothing pending: returns at once
}

TEST_F(StoreWriter, FlushFromManyThreads) {
  Writer w(file_.str());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&w, t] {
      for (int i = 0; i < 100; ++i) {
        w.submit(insert_log(t * 1000 + i));
        if (i % 25 == 0) w.flush();
      }
      w.flush();
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(w.committed_ops(), 400u);
  EXPECT_EQ(logged().size(), 400u);
}

TEST_F(StoreWriter, DestructorDrainsTheQueue) {
  std::atomic<int> done{0};
  {
    Writer w(file_.str());
    for (int i = 0; i < 500; ++i) w.submit(insert_log(i), [&done](bool ok) { done += ok; });
    // A callback may submit more during shutdown: that runs too.
    w.submit(insert_log(1000),
             [&w, &done](bool) { w.submit(insert_log(1001), [&done](bool ok) { done += ok; }); });
  }
  EXPECT_EQ(done.load(), 501);
  EXPECT_EQ(logged().size(), 502u);
}

TEST_F(StoreWriter, AnExceptionInACallbackIsContained) {
  Writer w(file_.str());
  w.submit(insert_log(1), [](bool) { throw std::runtime_error("callback bug"); });
  std::promise<bool> next;
  w.submit(insert_log(2), [&next](bool ok) { next.set_value(ok); });
  EXPECT_TRUE(next.get_future().get());
  EXPECT_EQ(logged(), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(StoreWriter, CommittedAlertSurvivesSigkill) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string path = file_.str();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    try {
      Writer w(path);
      model::Alert a;
      a.device_id = 9;
      a.severity = model::Severity::critical;
      a.alert_type = model::AlertType::device;
      a.title = "survives";
      a.timestamp = util::Clock::now();
      auto id = std::make_shared<std::int64_t>(0);
      w.submit([a, id](Database& db) { *id = insert_alert(db, a); },
               [id, fd = fds[1]](bool ok) {
                 std::int64_t v = ok ? *id : -1;
                 (void)!::write(fd, &v, sizeof v);
               });
      // Killed here: the writer thread idle, the connection still open.
      for (;;) ::pause();
    } catch (...) {
    }
    ::_exit(2);  // never return into the test runner from the child
  }
  ::close(fds[1]);
  std::int64_t id = 0;
  ssize_t n = ::read(fds[0], &id, sizeof id);
  ::close(fds[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof id));
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GT(id, 0);
  Database db = Database::open(path);
  auto got = get_alert(db, id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->title, "survives");
}

}  // namespace
}  // namespace valtronics::store

// (issue 14) The queue's bound: operations submitted and not completed are counted, and full()
// says when they reached the bound (ingest then answers 503 instead of queueing on).
namespace valtronics::store {
namespace {

TEST_F(StoreWriter, PendingOperationsAreCountedAgainstTheBound) {
  Writer w(file_.str());
  w.set_max_pending(3);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> entered;
  w.submit([&entered, gate](Database&) {
    entered.set_value();
    gate.wait();  // the writer is busy: what follows stays queued
  });
  entered.get_future().wait();
  EXPECT_EQ(w.pending(), 1u);
  EXPECT_FALSE(w.full());
  w.submit([](Database&) {});
  EXPECT_FALSE(w.full());
  w.submit([](Database&) {});
  EXPECT_EQ(w.pending(), 3u);
  EXPECT_TRUE(w.full());
  release.set_value();
  w.flush();
  EXPECT_EQ(w.pending(), 0u);
  EXPECT_FALSE(w.full());
}

}  // namespace
}  // namespace valtronics::store
