// Readings: one metric's value at a time, as ingested and fanned out, and the latest stored value
// of a device's metric.
#pragma once

#include <cstdint>
#include <string>

#include "util/time.hpp"

namespace valtronics::model {

// One reading of one metric (of a device the caller knows).
struct MetricReading {
  std::string name;   // [a-z0-9_.-]{1,64}
  double value = 0;
  std::string unit;   // may be empty: then no "unit" key is sent
  util::TimePoint timestamp;
};

// Latest value of one metric of one device.
struct MetricValue {
  std::int64_t device_id = 0;
  std::string metric;
  double value = 0;
  std::string unit;
  util::TimePoint timestamp{};
};

}  // namespace valtronics::model
