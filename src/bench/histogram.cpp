// Log-linear histogram: see histogram.hpp for the bucket layout.
#include "bench/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace valtronics::bench {

std::size_t Histogram::index_of(std::uint64_t v) {
  if (v < kSubBuckets) return static_cast<std::size_t>(v);
  // v has bit_width w >= 8; shift so that the top kSubBits+1 bits remain: (v >> e) in [128, 256).
  unsigned e = static_cast<unsigned>(std::bit_width(v)) - (kSubBits + 1);
  std::uint64_t sub = (v >> e) - kSubBuckets;  // 0..127
  return static_cast<std::size_t>(kSubBuckets + e * kSubBuckets + sub);
}

std::uint64_t Histogram::lowest_in(std::size_t index) {
  if (index < kSubBuckets) return index;
  std::uint64_t e = (index - kSubBuckets) / kSubBuckets;
  std::uint64_t sub = (index - kSubBuckets) % kSubBuckets;
  return (kSubBuckets + sub) << e;
}

std::uint64_t Histogram::highest_in(std::size_t index) {
  if (index < kSubBuckets) return index;
  std::uint64_t e = (index - kSubBuckets) / kSubBuckets;
  return lowest_in(index) + (std::uint64_t{1} << e) - 1;
}

Histogram::Histogram(std::uint64_t highest)
    : highest_(std::max<std::uint64_t>(highest, kSubBuckets)), counts_(index_of(highest_) + 1, 0) {}

void Histogram::record(std::uint64_t value, std::uint64_t n) {
  if (n == 0) return;
  std::size_t i = value > highest_ ? counts_.size() - 1 : index_of(value);
  counts_[i] += n;
  if (count_ == 0 || value < min_) min_ = value;
  if (value > max_) max_ = value;
  count_ += n;
  sum_ += value * n;
}

void Histogram::merge(const Histogram& other) {
  if (other.count_ == 0) return;
  if (other.highest_ == highest_) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  } else {
    for (std::size_t i = 0; i < other.counts_.size(); ++i)
      if (other.counts_[i]) {
        std::uint64_t v = std::min(lowest_in(i), highest_);
        counts_[index_of(v)] += other.counts_[i];
      }
  }
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

void Histogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = min_ = max_ = sum_ = 0;
}

std::uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  if (p <= 0) return min_;
  p = std::min(p, 100.0);
  // Rank of the wanted value, 1-based: at least p% of the values are at or below it. The epsilon
  // keeps 99.9% of 1000 at rank 999 despite 99.9 having no exact binary form.
  auto rank = static_cast<std::uint64_t>(
      std::ceil(p / 100.0 * static_cast<double>(count_) - 1e-9 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(highest_in(i), min(), max_);
  }
  return max_;
}

}  // namespace valtronics::bench
