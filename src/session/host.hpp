// What a connection's protocol core (session::Connection) needs from whoever carries its bytes:
// the transport adapter (net/ws_session) in the server, a scripted host in the unit tests. The
// core calls these; it never touches a socket, a timer or another thread itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "auth/claims.hpp"
#include "model/alert.hpp"
#include "model/events.hpp"
#include "protocol/messages.hpp"

namespace valtronics::session {

using SteadyTime = std::chrono::steady_clock::time_point;

// The stored state a subscription catches up from (snapshots, since_alert_id replays): the
// engine in the server. Each query answers once, later, on the connection's own thread (the
// implementation posts the engine's answer back), and never after the connection ended.
class CatchUpSource {
 public:
  // Latest stored value of each matching device and metric, one telemetry event per device.
  virtual void telemetry_snapshot(const protocol::Filters& filters, const auth::Claims& claims,
                                  std::function<void(model::Snapshot<model::TelemetryEvent>)> done) = 0;
  // Current status of each matching device (old_status == new_status).
  virtual void status_snapshot(const protocol::Filters& filters, const auth::Claims& claims,
                               std::function<void(model::Snapshot<model::DeviceStatusEvent>)> done) = 0;
  // Stored alerts with id > since_id matching `filters` and visible to `claims`, oldest first;
  // answered once every alert committed before the query has been published.
  virtual void replay_alerts(std::int64_t since_id, const protocol::Filters& filters,
                             const auth::Claims& claims,
                             std::function<void(model::AlertReplay)> done) = 0;

 protected:
  ~CatchUpSource() = default;
};

class Host : public CatchUpSource {
 public:
  // Frames were queued in the connection's outbound queue: write them (the server corks them to
  // the end of the loop turn).
  virtual void wants_write() = 0;
  // The connection's earliest deadline moved to `when` (SteadyTime::max(): none). The host calls
  // Connection::on_deadline at that time or a little after.
  virtual void deadline_changed(SteadyTime when) = 0;
  // The close handshake is over or abandoned: drop the transport now.
  virtual void abort_transport() = 0;

 protected:
  ~Host() = default;
};

}  // namespace valtronics::session
