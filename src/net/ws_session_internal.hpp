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
#include "protocol/errors.hpp"
#include "protocol/messages.hpp"
#include "protocol/ws_frame.hpp"

namespace valtronics::net::ws_detail {

// Frames per socket write: enough to amortize the syscall, few enough to bound the iovec array
// (three buffers a frame: header, payload, seq suffix; IOV_MAX is 1024).
inline constexpr std::size_t kMaxFramesPerWrite = 256;
// How many times a flush steps aside for events already queued behind it.
inline constexpr int kMaxFlushDeferrals = 16;
// Live events held per channel while a snapshot or replay is on its way; a client whose
// catch-up takes longer than this many events is told to reconnect (4009).
inline constexpr std::size_t kMaxHeldEvents = 100'000;
// Requests waiting for a catch-up to finish (the rate limit keeps this far from reached).
inline constexpr std::size_t kMaxDeferredRequests = 1'000;
// How long a closing connection waits for the peer's close frame / EOF before dropping it.
inline constexpr auto kCloseLinger = std::chrono::seconds(2);

// Live state changes of alerts that no alerts subscription's cover explains, remembered per
// connection so that a replay does not send them again (older ones are forgotten first).
inline constexpr std::size_t kMaxOtherSentAlerts = 1'000;

inline bool contains(const std::vector<std::string>& v, const std::string& s) {
  return v.empty() || std::find(v.begin(), v.end(), s) != v.end();
}

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
using protocol::Channel;
using protocol::ErrorCode;
using protocol::ws::Opcode;
using Steady = std::chrono::steady_clock;
namespace close_code = protocol::close_code;
using namespace ws_detail;
}  // namespace valtronics::net
