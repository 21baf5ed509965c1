// The writer thread: every database write goes through its queue and runs there, batched into
// one transaction per turn (up to kMaxBatch operations, or what is queued), so a slow disk
// delays commits but never the I/O threads. Operations run in submission order; a callback runs
// after the transaction holding its operation committed (this is how an alert is known to be
// durable before it is published).
//
// When the storage itself fails (disk full, I/O error, the database locked by another process:
// StoreError::storage_unavailable), the writer keeps the batch and runs it again every
// kRetryInterval until it commits: nothing queued is dropped, and health() says unavailable in
// the meantime so that ingest can refuse new readings (503) instead of queueing without bound.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "store/db.hpp"

namespace valtronics::store {

class Writer {
 public:
  using Op = std::function<void(Database&)>;
  // `ok` is false when the transaction failed (the error was logged; the batch was rolled back).
  using Done = std::function<void(bool ok)>;

  // (Added) At most this many operations per transaction.
  static constexpr std::size_t kMaxBatch = 1000;
  // Group commit. Under a steady stream of single operations (one reading per request, or per
  // MQTT message) each would otherwise be a transaction of its own, and a transaction's fixed
  // cost (the WAL's locks, its page writes, a wake-up of this thread) is most of its price: at
  // 10 000 readings/s, 10 000 commits a second. A turn that would start within this long of the
  // previous turn's start first waits out the rest of the interval (or until a full batch is
  // queued), so that under load commits come at most this often, each carrying what arrived
  // meanwhile. An operation after a quiet spell is committed at once, and so is one somebody
  // waits for (Commit::prompt), with whatever is queued before it.
  static constexpr std::chrono::microseconds kGroupCommitInterval{1000};
  // Whether somebody waits for an operation's commit: `prompt` when its `done` answers a
  // request (`?sync=true` ingest, a reply after the commit) or publishes an event (an alert):
  // it is not held for group commit. `grouped` (background writes: history, latest values,
  // records already answered) may wait out the interval.
  enum class Commit { grouped, prompt };
  // Between two attempts at a batch the storage refused. Short enough that ingest resumes
  // within about a second of the disk having room again; a locked database adds the busy
  // timeout (5 s) to each attempt anyway.
  static constexpr std::chrono::milliseconds kRetryInterval{1000};
  // Once stopping, a batch the storage keeps refusing is given up after this long (its
  // operations get done(false), logged as lost). The server's shutdown_timeout usually ends the
  // process first; this bounds the writer's destructor for every other user.
  static constexpr std::chrono::milliseconds kGiveUpWhenStopping{10'000};

  // The storage's state, for /health and ingest. Thread-safe.
  struct Health {
    bool available = true;   // false from a refused attempt until the next commit
    std::string last_error;  // SQLite's message of the last refusal ("" if none yet)
    std::size_t queued = 0;  // operations waiting (including a batch being retried)
    std::uint64_t retries = 0;  // attempts the storage refused, since start
  };

  // Opens its own connection to `path` (already migrated) and starts the thread.
  explicit Writer(const std::string& path);
  // Commits everything queued, then stops the thread.
  ~Writer();

  // Thread-safe. `done` runs on the writer thread after commit (keep it short: post elsewhere).
  void submit(Op op, Done done = {}, Commit when = Commit::grouped);

  // Blocks until everything submitted before the call is committed.
  void flush();

  std::uint64_t committed_ops() const;  // for stats and tests
  std::uint64_t transactions() const;
  Health health() const;
  // Cheap check for the ingest path (one atomic load).
  bool available() const { return available_.load(std::memory_order_relaxed); }
  // (issue 14) Operations submitted and not yet completed, and whether they reached the bound
  // past which ingest is refused (503 with Retry-After) instead of queueing without end when
  // readings come faster than the storage commits them. One atomic load each.
  static constexpr std::size_t kMaxPending = 4096;
  std::size_t pending() const { return pending_.load(std::memory_order_relaxed); }
  bool full() const { return pending() >= max_pending_; }
  // For tests: the bound (default kMaxPending).
  void set_max_pending(std::size_t n) { max_pending_ = n; }
  // For tests: the group-commit interval (default kGroupCommitInterval).
  void set_group_commit_interval(std::chrono::microseconds d) {
    std::lock_guard lk(mutex_);
    group_commit_ = d;
  }

 private:
  enum class Outcome { committed, failed, unavailable };
  void run();
  // Runs `attempt` until it commits or fails for a reason of its own; while the storage refuses
  // it, marks the store unavailable and waits kRetryInterval between attempts. Returns
  // `unavailable` only when stopping and kGiveUpWhenStopping has passed.
  template <class F>
  Outcome until_stored(F&& attempt);
  void on_refused(const std::string& error);
  void on_stored();

  struct Item {
    Op op;
    Done done;
    bool prompt = false;
  };
  Database db_;
  mutable std::mutex mutex_;
  std::condition_variable cv_, drained_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point stop_requested_;  // guarded by mutex_
  std::uint64_t submitted_ = 0, completed_ = 0, transactions_ = 0;
  std::uint64_t committed_ = 0;  // (Added) operations whose transaction committed
  std::atomic<bool> available_{true};
  std::atomic<std::size_t> pending_{0};
  std::size_t max_pending_ = kMaxPending;
  std::string last_error_;        // guarded by mutex_
  std::uint64_t retries_ = 0;     // guarded by mutex_
  std::size_t in_progress_ = 0;   // the batch being run, guarded by mutex_
  // Guarded by mutex_: the thread waits for work, and submit() wakes it. Not while it waits out
  // a group-commit interval: that wait ends by time (or a full batch), so the operations
  // arriving meanwhile cost no wake-up each.
  bool idle_ = false;
  std::chrono::microseconds group_commit_ = kGroupCommitInterval;  // guarded by mutex_
  std::size_t prompt_queued_ = 0;  // Commit::prompt operations in queue_, guarded by mutex_
  std::chrono::steady_clock::time_point last_turn_{};  // the thread's own: its last turn's start
  std::thread thread_;
};

}  // namespace valtronics::store
