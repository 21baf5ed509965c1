// (issue 12) Which partition a device belongs to in a cluster: the same answer on every node
// (cluster.partitions must be the same everywhere). A multiplicative hash spreads consecutive
// device ids over the partitions; it is part of the cluster's contract, so never change it
// while nodes of two versions may run together.
#pragma once

#include <cstdint>

namespace valtronics::engine {

inline unsigned partition_of(std::int64_t device_id, unsigned partitions) {
  const auto h = static_cast<std::uint64_t>(device_id) * 0x9E3779B97F4A7C15ull;
  return static_cast<unsigned>((h >> 32) % partitions);
}

}  // namespace valtronics::engine
