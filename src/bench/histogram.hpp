// A latency histogram in the style of HdrHistogram: log-linear buckets with a fixed relative
// precision, constant-time record, no allocation after construction. Values are integers in a
// unit chosen by the caller (the benchmarks record microseconds).
//
// Layout: values 0..127 each have their own bucket (exact); above, every power-of-two range
// [2^k, 2^(k+1)) is split into 128 equal sub-buckets, so a bucket is at most 1/128 (0.78%) of
// its values wide. Values above `highest` are counted in the top bucket; min, max, count and the
// mean are kept exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace valtronics::bench {

class Histogram {
 public:
  // Trackable range [0, highest]; the default covers 1 µs .. 60 s in microseconds.
  explicit Histogram(std::uint64_t highest = 60'000'000);

  void record(std::uint64_t value, std::uint64_t count = 1);
  // Negative values (a clock step) are recorded as 0.
  void record_signed(std::int64_t value) { record(value < 0 ? 0 : static_cast<std::uint64_t>(value)); }
  // Adds every value of `other` (same `highest` expected; values are re-bucketed otherwise).
  void merge(const Histogram& other);
  void reset();

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }

  // The value at percentile `p` (0..100): the highest value equivalent to (in the same bucket as)
  // the smallest recorded value v such that at least p% of the values are <= v. Never above
  // max() and never below min(); percentile(0) is min(); 0 when empty. The relative error is
  // below 1%.
  std::uint64_t percentile(double p) const;

  // Relative width of the widest bucket: an upper bound on the error of percentile().
  static constexpr double precision() { return 1.0 / kSubBuckets; }

  // Bucket arithmetic, exposed for the unit tests.
  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t lowest_in(std::size_t index);
  static std::uint64_t highest_in(std::size_t index);

 private:
  static constexpr unsigned kSubBits = 7;
  static constexpr std::uint64_t kSubBuckets = 1u << kSubBits;  // 128

  std::uint64_t highest_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0, min_ = 0, max_ = 0, sum_ = 0;
};

}  // namespace valtronics::bench
