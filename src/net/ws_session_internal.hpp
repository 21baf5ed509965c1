// What the WebSocket session's source files share: limits, small helpers and names. Private to
// net/ws_session*.cpp (the session is one class whose members are defined by concern: reading
// and writing in ws_session.cpp, auth and subscriptions in ws_subscriptions.cpp, catch-up in
// ws_catch_up.cpp, delivery of hub events in ws_delivery.cpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

#include "auth/claims.hpp"
#include "config/limits.hpp"
#include "model/enum_names.hpp"
#include "model/enums.hpp"
#include "protocol/errors.hpp"
#include "protocol/messages.hpp"
#include "protocol/ws_frame.hpp"

namespace valtronics::net::ws_detail {

inline void raise_to(std::atomic<std::int64_t>& a, std::int64_t v) {
  auto cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// Claims that see every device: admins, operators, and users or analysts with "devices": "*".
inline bool sees_every_device(const auth::Claims& c) {
  return c.role == auth::Role::admin || c.role == auth::Role::operator_ ||
         (c.role != auth::Role::device && c.all_devices);
}

// May `now` see a device that `before` could not?
inline bool sees_more(const auth::Claims& now, const auth::Claims& before) {
  if (sees_every_device(before) || now.role == auth::Role::device) return false;
  if (sees_every_device(now)) return true;
  if (before.role == auth::Role::device) return !now.devices.empty();
  return !std::includes(before.devices.begin(), before.devices.end(), now.devices.begin(),
                        now.devices.end());
}

}  // namespace valtronics::net::ws_detail

namespace valtronics::net {
// Names every ws_session*.cpp uses (this header is theirs alone).
namespace asio = boost::asio;
using boost::system::error_code;
using model::Channel;
using protocol::ErrorCode;
using protocol::ws::Opcode;
using Steady = std::chrono::steady_clock;
namespace close_code = protocol::close_code;
using namespace ws_detail;
}  // namespace valtronics::net
