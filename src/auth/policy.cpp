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

bool may(const Claims& c, Action a) {
  switch (a) {
    case Action::read: return c.role != Role::device;
    case Action::write: return c.role == Role::admin || c.role == Role::operator_;
    case Action::respond:
      return c.role == Role::admin || c.role == Role::operator_ || c.role == Role::analyst;
    case Action::view_stats: return c.role == Role::admin;
  }
  return false;
}

std::string_view refusal(Action a) {
  switch (a) {
    case Action::read: return "device tokens may only ingest telemetry";
    case Action::write: return "admin or operator token required";
    case Action::respond: return "admin, operator or analyst token required";
    case Action::view_stats: return "admin token required";
  }
  return "not allowed";
}

}  // namespace valtronics::auth
