// The writer thread (see writer.hpp). Each turn takes what is queued (at most kMaxBatch
// operations; under load, after the group-commit interval) and runs it in one BEGIN IMMEDIATE
// ... COMMIT. If anything fails, the whole batch
// is rolled back and its operations are run again one by one, each in its own transaction, so a
// bad operation fails alone (done(false), logged) and the others still commit. An operation may
// therefore run twice (the first run rolled back): it must only write to the database and to
// state it owns. Callbacks run on this thread, in submission order, after the commit.
//
// A failure of the storage rather than of an operation (StoreError::storage_unavailable: disk
// full, I/O error, locked) is not a reason to drop anything: the same batch is attempted again
// every kRetryInterval until it commits (see until_stored), and the store reports itself
// unavailable meanwhile.
#include "store/writer.hpp"

#include "metrics/counters.hpp"
#include "util/thread_name.hpp"

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
  thread_ = std::thread([this] {
    util::name_this_thread("vt-writer");
    run();
  });
}

Writer::~Writer() {
  {
    std::lock_guard lk(mutex_);
    stopping_ = true;
    stop_requested_ = std::chrono::steady_clock::now();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Writer::submit(Op op, Done done, Commit when) {
  const bool prompt = when == Commit::prompt;
  bool wake = false;
  {
    std::lock_guard lk(mutex_);
    queue_.push_back(Item{std::move(op), std::move(done), prompt});
    ++submitted_;
    if (prompt) ++prompt_queued_;
    // A prompt one also ends a group-commit wait (notifying a thread that is not waiting costs
    // no system call).
    wake = idle_ || queue_.size() == kMaxBatch || prompt;
  }
  pending_.fetch_add(1, std::memory_order_relaxed);
  if (wake) cv_.notify_one();
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

Writer::Health Writer::health() const {
  std::lock_guard lk(mutex_);
  return Health{available_.load(), last_error_, queue_.size() + in_progress_, retries_};
}

void Writer::on_refused(const std::string& error) {
  bool first = false;
  {
    std::lock_guard lk(mutex_);
    first = available_.exchange(false) || last_error_ != error;
    last_error_ = error;
    ++retries_;
  }
  // Once per outage (and when the reason changes), not once per attempt.
  if (first)
    spdlog::error("store writer: storage unavailable ({}); keeping the batch and retrying every "
                  "{} ms",
                  error, kRetryInterval.count());
}

void Writer::on_stored() {
  if (available_.load()) return;
  available_.store(true);
  std::uint64_t retries = 0;
  {
    std::lock_guard lk(mutex_);
    retries = retries_;
  }
  spdlog::warn("store writer: storage available again; the kept batch committed ({} refused "
               "attempts so far)",
               retries);
}

template <class F>
Writer::Outcome Writer::until_stored(F&& attempt) {
  for (;;) {
    try {
      attempt();
      on_stored();
      return Outcome::committed;
    } catch (const StoreError& e) {
      if (!e.storage_unavailable()) throw;
      on_refused(e.what());
    }
    std::unique_lock lk(mutex_);
    if (stopping_ &&
        std::chrono::steady_clock::now() - stop_requested_ >= kGiveUpWhenStopping)
      return Outcome::unavailable;
    // Not woken by submit() or the stop request: only time ends the wait.
    cv_.wait_for(lk, kRetryInterval, [] { return false; });
  }
}

void Writer::run() {
  std::vector<Item> batch;
  std::vector<char> ok;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lk(mutex_);
      idle_ = true;
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      idle_ = false;
      if (queue_.empty()) return;  // stopping, and everything queued is done
      const auto due = last_turn_ + group_commit_;
      auto go = [&] { return stopping_ || queue_.size() >= kMaxBatch || prompt_queued_ > 0; };
      if (!go() && std::chrono::steady_clock::now() < due) cv_.wait_until(lk, due, go);
      last_turn_ = std::chrono::steady_clock::now();
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      for (std::size_t i = 0; i < n; ++i) {
        if (queue_.front().prompt) --prompt_queued_;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_progress_ = n;
    }

    ok.assign(batch.size(), 0);
    std::uint64_t transactions = 0;
    // The whole batch in one transaction, kept and retried while the storage refuses it.
    // Quiet: an operation's own failure is reported by the one-by-one pass below.
    Outcome batch_outcome = Outcome::failed;
    guarded(
        [&] {
          batch_outcome = until_stored([&] {
            const auto started = std::chrono::steady_clock::now();
            Transaction tx(db_);
            for (Item& item : batch)
              if (item.op) item.op(db_);
            tx.commit();
            metrics::observe(metrics::Histogram::store_commit,
                             std::chrono::steady_clock::now() - started);
          });
        },
        "batch", /*quiet=*/true);
    if (batch_outcome == Outcome::committed) {
      ++transactions;
      std::fill(ok.begin(), ok.end(), 1);
    } else if (batch_outcome == Outcome::unavailable) {
      spdlog::error("store writer: stopping with the storage still unavailable; {} operations "
                    "were not written",
                    batch.size());
    } else {
      if (batch.size() > 1)
        spdlog::warn("store writer: batch of {} operations rolled back; retrying one by one",
                     batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        Outcome outcome = Outcome::failed;
        guarded(
            [&] {
              outcome = until_stored([&] {
                const auto started = std::chrono::steady_clock::now();
                Transaction tx(db_);
                if (batch[i].op) batch[i].op(db_);
                tx.commit();
                metrics::observe(metrics::Histogram::store_commit,
                                 std::chrono::steady_clock::now() - started);
              });
            },
            "operation");
        ok[i] = outcome == Outcome::committed;
        if (ok[i]) ++transactions;
        if (outcome == Outcome::unavailable)
          spdlog::error("store writer: stopping with the storage still unavailable; an "
                        "operation was not written");
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
      pending_.fetch_sub(ok.size(), std::memory_order_relaxed);
      in_progress_ = 0;
      committed_ += committed;
      transactions_ += transactions;
    }
    drained_.notify_all();
  }
}

}  // namespace valtronics::store
