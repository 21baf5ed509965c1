// Time points as milliseconds since the Unix epoch: how the store keeps timestamps and how the
// telemetry history's parameters and buckets count (one definition for store/ and api/).
#pragma once

#include <chrono>
#include <cstdint>

#include "util/time.hpp"

namespace valtronics::util {

inline std::int64_t to_epoch_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline TimePoint from_epoch_ms(std::int64_t ms) {
  return TimePoint{std::chrono::duration_cast<TimePoint::duration>(std::chrono::milliseconds{ms})};
}

}  // namespace valtronics::util
