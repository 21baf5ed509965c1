// What a token may see and do, on WebSocket and REST alike: pure functions of verified claims.
// The one place where roles meet devices, channels and actions (docs/architecture.md).
#pragma once

#include <cstdint>

#include "auth/claims.hpp"

namespace valtronics::auth {

// Claims that see every device: admins, operators, and users or analysts with "devices": "*".
bool sees_every_device(const Claims& c);

// May `now` see a device that `before` could not? (A token refresh that widens what a
// connection sees invalidates what its alerts subscriptions are known to have delivered.)
bool sees_more(const Claims& now, const Claims& before);

}  // namespace valtronics::auth
