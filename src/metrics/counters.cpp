// The per-thread blocks: taken once per thread, returned when it ends, summed by scrapes.
#include "metrics/counters.hpp"

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

namespace valtronics::metrics {

namespace {

struct Blocks {
  std::mutex mutex;
  std::vector<std::unique_ptr<Block>> all;  // never shrinks: a scrape sums every block ever used
  std::vector<Block*> free;                 // of threads that ended, for the next ones
};

Blocks& blocks() {
  static Blocks* b = new Blocks;  // never destroyed: threads may end after static destruction
  return *b;
}

// Gives the thread's block back when the thread ends. A block keeps its counts, so the next
// thread to take it adds to them and the sums never go down.
struct Release {
  ~Release() {
    if (!tl_block) return;
    auto& b = blocks();
    std::lock_guard lock(b.mutex);
    b.free.push_back(tl_block);
    tl_block = nullptr;
  }
};

}  // namespace

Block& acquire_block() {
  thread_local Release release;  // constructed here, on the thread's first count
  (void)release;
  auto& b = blocks();
  std::lock_guard lock(b.mutex);
  if (!b.free.empty()) {
    tl_block = b.free.back();
    b.free.pop_back();
  } else {
    b.all.push_back(std::make_unique<Block>());
    tl_block = b.all.back().get();
  }
  return *tl_block;
}

void observe(Histogram h, std::chrono::nanoseconds d) {
  const double seconds = std::chrono::duration<double>(d).count();
  const auto bucket = static_cast<std::size_t>(
      std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds) -
      kLatencyBuckets.begin());  // the first bound >= seconds; size(): +Inf
  const std::size_t base = slot::histograms + static_cast<std::size_t>(h) * kHistogramSlots;
  add(base + bucket);
  add(base + kLatencyBuckets.size() + 1, static_cast<std::uint64_t>(std::max<std::int64_t>(d.count(), 0)));
}

std::array<std::uint64_t, slot::count> read_all() {
  std::array<std::uint64_t, slot::count> sums{};
  auto& b = blocks();
  std::lock_guard lock(b.mutex);
  for (const auto& block : b.all)
    for (std::size_t i = 0; i < slot::count; ++i)
      sums[i] += block->v[i].load(std::memory_order_relaxed);
  return sums;
}

}  // namespace valtronics::metrics
