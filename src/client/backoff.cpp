// Full-jitter backoff arithmetic; see backoff.hpp.
#include "client/backoff.hpp"

#include <algorithm>

namespace valtronics::client {

std::chrono::milliseconds backoff_ceiling(const Backoff& b, unsigned attempt) {
  const auto base = std::max<std::int64_t>(0, b.base.count());
  const auto cap = std::max<std::int64_t>(0, b.cap.count());
  std::int64_t ceiling = base;
  // Doubling stops at the cap, so the shift can never overflow however large `attempt` grows.
  for (unsigned i = 0; i < attempt && ceiling < cap; ++i) ceiling *= 2;
  return std::chrono::milliseconds(std::min(ceiling, cap));
}

std::chrono::milliseconds backoff_delay(const Backoff& b, unsigned attempt, double u) {
  u = std::clamp(u, 0.0, 1.0);
  const double ceiling = static_cast<double>(backoff_ceiling(b, attempt).count());
  return std::chrono::milliseconds(static_cast<std::int64_t>(u * ceiling));
}

std::chrono::milliseconds backoff_delay(const Backoff& b, unsigned attempt, std::mt19937_64& rng) {
  return backoff_delay(b, attempt, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
}

bool backoff_exhausted(const Backoff& b, unsigned attempts) {
  return b.max_attempts != 0 && attempts >= b.max_attempts;
}

}  // namespace valtronics::client
