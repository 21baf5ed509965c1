// The authorization policy: which roles see which devices and channels, and who may ingest.
// Pure functions of verified claims, so the hub, the sessions and the HTTP routes all ask the
// same questions and get the same answers; tests/unit/claims_test.cpp holds the whole matrix.

#include "auth/claims.hpp"

#include <algorithm>

namespace valtronics::auth {

std::string_view to_string(Role r) {
  switch (r) {
    case Role::admin: return "admin";
    case Role::operator_: return "operator";
    case Role::analyst: return "analyst";
    case Role::user: return "user";
    case Role::device: return "device";
  }
  return "unknown";
}

std::optional<Role> role_from_string(std::string_view s) {
  // Exact, case-sensitive match: the platform issues lower-case roles, and accepting "Admin"
  // would be one more spelling for a privilege check to get wrong.
  if (s == "admin") return Role::admin;
  if (s == "operator") return Role::operator_;
  if (s == "analyst") return Role::analyst;
  if (s == "user") return Role::user;
  if (s == "device") return Role::device;
  return std::nullopt;
}

bool may_see_device(const Claims& c, std::int64_t device_id) {
  switch (c.role) {
    case Role::admin:
    case Role::operator_:
      return true;
    case Role::analyst:
    case Role::user:
      if (c.all_devices) return true;
      // `devices` is kept sorted and unique by the verifier, so this is a log-n lookup on the
      // fan-out path rather than a scan.
      return std::binary_search(c.devices.begin(), c.devices.end(), device_id);
    case Role::device:
      // A device's token is for ingesting its own data, not for watching anyone's.
      return false;
  }
  return false;
}

bool may_subscribe(const Claims& c, model::Channel channel) {
  if (c.role == Role::device) return false;
  if (channel == model::Channel::system) {
    // Host metrics describe the server itself, which only the people running it should see.
    return c.role == Role::admin || c.role == Role::operator_;
  }
  return true;
}

bool may_ingest(const Claims& c, std::int64_t device_id) {
  switch (c.role) {
    case Role::admin:
    case Role::operator_:
      return true;
    case Role::device:
      return c.device_id.has_value() && *c.device_id == device_id;
    case Role::analyst:
    case Role::user:
      return false;
  }
  return false;
}

bool is_admin(const Claims& c) { return c.role == Role::admin; }

}  // namespace valtronics::auth
