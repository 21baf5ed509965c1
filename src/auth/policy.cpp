// The authorization policy.
#include "auth/policy.hpp"

#include <algorithm>

namespace valtronics::auth {

bool sees_every_device(const Claims& c) {
  return c.role == Role::admin || c.role == Role::operator_ ||
         (c.role != Role::device && c.all_devices);
}

bool sees_more(const Claims& now, const Claims& before) {
  if (sees_every_device(before) || now.role == Role::device) return false;
  if (sees_every_device(now)) return true;
  if (before.role == Role::device) return !now.devices.empty();
  return !std::includes(before.devices.begin(), before.devices.end(), now.devices.begin(),
                        now.devices.end());
}

}  // namespace valtronics::auth
