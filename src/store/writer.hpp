// The writer thread: every database write goes through its queue and runs there, batched into
// one transaction per turn (up to kMaxBatch operations, or what is queued), so a slow disk
// delays commits but never the I/O threads. Operations run in submission order; a callback runs
// after the transaction holding its operation committed (this is how an alert is known to be
// durable before it is published).
#pragma once

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

  // Opens its own connection to `path` (already migrated) and starts the thread.
  explicit Writer(const std::string& path);
  // Commits everything queued, then stops the thread.
  ~Writer();

  // Thread-safe. `done` runs on the writer thread after commit (keep it short: post elsewhere).
  void submit(Op op, Done done = {});

  // Blocks until everything submitted before the call is committed.
  void flush();

  std::uint64_t committed_ops() const;  // for stats and tests
  std::uint64_t transactions() const;

 private:
  void run();

  struct Item {
    Op op;
    Done done;
  };
  Database db_;
  mutable std::mutex mutex_;
  std::condition_variable cv_, drained_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::uint64_t submitted_ = 0, completed_ = 0, transactions_ = 0;
  std::uint64_t committed_ = 0;  // (Added) operations whose transaction committed
  std::thread thread_;
};

}  // namespace valtronics::store
