// Verified token claims and the authorization policy: pure functions of claims (and time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/enums.hpp"
#include "util/time.hpp"

namespace valtronics::auth {

// The platform's roles, plus `device` for a device's own token.
enum class Role { admin, operator_, analyst, user, device };
std::string_view to_string(Role r);
std::optional<Role> role_from_string(std::string_view s);

struct Claims {
  std::string sub;
  Role role = Role::user;
  bool all_devices = false;             // "devices": "*"
  std::vector<std::int64_t> devices;    // sorted, unique; ignored when all_devices
  std::optional<std::int64_t> device_id;  // device tokens only
  std::optional<util::TimePoint> expires_at;  // from exp
};

// May these claims see events of `device_id`? Admins and operators see every device; analysts
// and users the devices their claim lists (or all with "*"); device tokens see nothing.
bool may_see_device(const Claims& c, std::int64_t device_id);

// May these claims subscribe to `channel` at all? Device tokens may not subscribe; `system`
// needs admin or operator.
bool may_subscribe(const Claims& c, model::Channel channel);

// May these claims ingest telemetry for `device_id`? Admin, operator, or a device token whose
// device_id is `device_id`.
bool may_ingest(const Claims& c, std::int64_t device_id);

// May these claims read the admin endpoints (/api/v1/ws/stats)? Admin only.
bool is_admin(const Claims& c);

}  // namespace valtronics::auth
