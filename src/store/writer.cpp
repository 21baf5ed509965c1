// The writer thread (see writer.hpp). Each turn takes what is queued (at most kMaxBatch
// operations) and runs it in one BEGIN IMMEDIATE ... COMMIT. If anything fails, the whole batch
// is rolled back and its operations are run again one by one, each in its own transaction, so a
// bad operation fails alone (done(false), logged) and the others still commit. An operation may
// therefore run twice (the first run rolled back): it must only write to the database and to
// state it owns. Callbacks run on this thread, in submission order, after the commit.
#include "store/writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <vector>

namespace valtronics::store {

namespace {

// Runs `f`; returns false (and logs, unless quiet) if it threw.
template <class F>
bool guarded(F&& f, const char* what, bool quiet = false) {
  try {
    f();
    return true;
  } catch (const std::exception& e) {
    if (!quiet) spdlog::error("store writer: {} failed: {}", what, e.what());
    return false;
  } catch (...) {
    if (!quiet) spdlog::error("store writer: {} failed: unknown exception", what);
    return false;
  }
}

}  // namespace

Writer::Writer(const std::string& path) : db_(Database::open(path)) {
  thread_ = std::thread([this] { run(); });
}

Writer::~Writer() {
  {
    std::lock_guard lk(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Writer::submit(Op op, Done done) {
  {
    std::lock_guard lk(mutex_);
    queue_.push_back(Item{std::move(op), std::move(done)});
    ++submitted_;
  }
  cv_.notify_one();
}

void Writer::flush() {
  if (std::this_thread::get_id() == thread_.get_id())
    throw std::logic_error("store::Writer::flush() called on the writer thread");
  std::unique_lock lk(mutex_);
  const std::uint64_t target = submitted_;
  drained_.wait(lk, [&] { return completed_ >= target; });
}

std::uint64_t Writer::committed_ops() const {
  std::lock_guard lk(mutex_);
  return committed_;
}

std::uint64_t Writer::transactions() const {
  std::lock_guard lk(mutex_);
  return transactions_;
}

void Writer::run() {
  std::vector<Item> batch;
  std::vector<char> ok;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lk(mutex_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }

    ok.assign(batch.size(), 0);
    std::uint64_t transactions = 0;
    // The whole batch in one transaction. Quiet: a failure is reported by the retry below.
    bool batch_ok = guarded(
        [&] {
          Transaction tx(db_);
          for (Item& item : batch)
            if (item.op) item.op(db_);
          tx.commit();
        },
        "batch", /*quiet=*/true);
    if (batch_ok) {
      ++transactions;
      std::fill(ok.begin(), ok.end(), 1);
    } else {
      if (batch.size() > 1)
        spdlog::warn("store writer: batch of {} operations rolled back; retrying one by one",
                     batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        ok[i] = guarded(
            [&] {
              Transaction tx(db_);
              if (batch[i].op) batch[i].op(db_);
              tx.commit();
            },
            "operation");
        if (ok[i]) ++transactions;
      }
    }

    std::uint64_t committed = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (ok[i]) ++committed;
      if (batch[i].done) guarded([&] { batch[i].done(ok[i] != 0); }, "done callback");
    }
    batch.clear();  // release what the operations captured before reporting completion
    {
      std::lock_guard lk(mutex_);
      completed_ += ok.size();
      committed_ += committed;
      transactions_ += transactions;
    }
    drained_.notify_all();
  }
}

}  // namespace valtronics::store
