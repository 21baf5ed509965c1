// The history reader (issue 14): long reads of telemetry history (raw lists, bucketed series,
// export pieces) run here, on threads of their own with connections of their own, never on the
// engine thread (ingest and rules) nor on the I/O threads (fan-out). A small bounded queue of
// jobs: a request that finds it full is answered 503 at once instead of waiting behind others.
// SQLite in WAL mode lets these connections read while the writer commits; each job's
// statements are short (one page, one series, one export piece), so no snapshot is held long
// enough to stop the WAL's checkpoints.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/db.hpp"

namespace valtronics::store {

class Reader {
 public:
  using Job = std::function<void(Database&)>;

  // Threads, and jobs that may wait for one (beyond those, submit() refuses).
  static constexpr std::size_t kDefaultThreads = 2;
  static constexpr std::size_t kDefaultMaxQueued = 64;

  // Opens `threads` connections to `location` (already migrated: the engine did) and starts
  // one thread per connection. Throws StoreError when a connection cannot be opened.
  explicit Reader(const std::string& location, std::size_t threads = kDefaultThreads,
                  std::size_t max_queued = kDefaultMaxQueued);
  // stop().
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Thread-safe. Queues `job`, to run on one of the threads with that thread's connection.
  // False (the job is not kept) when max_queued jobs already wait, or once stopping.
  // `always`: queued even beyond max_queued (an export's next piece: each export has at most
  // one piece waiting, and refusing it would cut a body already begun).
  bool submit(Job job, bool always = false);

  // Runs nothing more: jobs still waiting are dropped (destroyed unrun), the running ones
  // finish, the threads end. Idempotent.
  void stop();

  std::size_t queued() const;

  // A job's exception escaping it is logged and counted here (jobs answer their own errors).
  std::size_t failed_jobs() const;

 private:
  void run(Database& db);
  std::vector<Database> dbs_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::size_t max_queued_ = 0;
  std::size_t failed_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace valtronics::store
