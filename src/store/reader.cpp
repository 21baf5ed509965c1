// The history reader's threads (see reader.hpp).
#include "store/reader.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <string>
#include <utility>

#include "util/thread_name.hpp"

namespace valtronics::store {

Reader::Reader(const std::string& location, std::size_t threads, std::size_t max_queued)
    : max_queued_(max_queued) {
  if (threads == 0) threads = 1;
  dbs_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) dbs_.push_back(Database::open(location));
  threads_.reserve(threads);
  for (std::size_t i = 0; i < dbs_.size(); ++i)
    threads_.emplace_back([this, i, &db = dbs_[i]] {
      util::name_this_thread("vt-reader-" + std::to_string(i));
      run(db);
    });
}

Reader::~Reader() { stop(); }

bool Reader::submit(Job job, bool always) {
  {
    std::lock_guard lk(mutex_);
    if (stopping_ || (!always && queue_.size() >= max_queued_)) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void Reader::stop() {
  std::deque<Job> dropped;
  {
    std::lock_guard lk(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  dropped.clear();  // outside the lock: a job's captures may post elsewhere as they go
}

std::size_t Reader::queued() const {
  std::lock_guard lk(mutex_);
  return queue_.size();
}

std::size_t Reader::failed_jobs() const {
  std::lock_guard lk(mutex_);
  return failed_;
}

void Reader::run(Database& db) {
  while (true) {
    Job job;
    {
      std::unique_lock lk(mutex_);
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job(db);
    } catch (const std::exception& e) {
      spdlog::error("history reader: a job failed: {}", e.what());
      std::lock_guard lk(mutex_);
      ++failed_;
    } catch (...) {
      spdlog::error("history reader: a job failed: unknown exception");
      std::lock_guard lk(mutex_);
      ++failed_;
    }
    job = nullptr;  // its captures released on this thread, before the next wait
  }
}

}  // namespace valtronics::store
