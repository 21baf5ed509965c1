// What a token may see and do, on WebSocket and REST alike: pure functions of verified claims.
// The one place where roles meet devices, channels and actions (docs/architecture.md).
#pragma once

#include <cstdint>
#include <string_view>

#include "auth/claims.hpp"

namespace valtronics::auth {

// Claims that see every device: admins, operators, and users or analysts with "devices": "*".
bool sees_every_device(const Claims& c);

// May `now` see a device that `before` could not? (A token refresh that widens what a
// connection sees invalidates what its alerts subscriptions are known to have delivered.)
bool sees_more(const Claims& now, const Claims& before);

// What a REST request does, and which roles may do it:
//   read        admin, operator, analyst, user (records outside an analyst's or user's
//               `devices` claim are filtered, or 404, by the engine)
//   write       admin, operator (device and rule changes, device status reports)
//   respond     admin, operator, analyst (acknowledge and resolve alerts)
//   view_stats  admin (/api/v1/ws/stats)
// Device tokens may do none of these; they may only ingest their own telemetry (may_ingest).
enum class Action { read, write, respond, view_stats };
bool may(const Claims& c, Action a);
// Why `a` is refused to a token that may not do it: "admin or operator token required".
std::string_view refusal(Action a);

}  // namespace valtronics::auth
