// The state of a link to an outside service that feeds the server (the MQTT broker), shared
// between the thread that runs the link and the HTTP handlers that report it (/health,
// /api/v1/ws/stats). Thread-safe: the state behind a mutex (it changes on connects and
// disconnects only), the counters atomic (they change per message).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace valtronics::util {

class LinkStatus {
 public:
  enum class State { connecting, connected, disconnected };

  struct Snapshot {
    State state = State::connecting;
    std::string endpoint;  // what the link connects to, without credentials
    std::string error;     // why it is not connected (empty while connected)
    std::uint64_t connects = 0;  // successful connections so far (1 + reconnects)
    std::chrono::system_clock::time_point since{};  // when the state last changed
  };

  explicit LinkStatus(std::string endpoint) { snap_.endpoint = std::move(endpoint); }

  void set(State state, std::string error = {}) {
    std::lock_guard lock(mu_);
    if (state == State::connected) ++snap_.connects;
    if (state != snap_.state) snap_.since = std::chrono::system_clock::now();
    snap_.state = state;
    snap_.error = std::move(error);
  }

  Snapshot snapshot() const {
    std::lock_guard lock(mu_);
    return snap_;
  }

  static const char* name(State s) {
    switch (s) {
      case State::connecting: return "connecting";
      case State::connected: return "connected";
      case State::disconnected: return "disconnected";
    }
    return "unknown";
  }

  // Messages taken from the link, readings and status reports applied from them, and messages
  // refused (a bad topic or payload, an unknown device, storage unavailable).
  std::atomic<std::uint64_t> messages{0}, readings{0}, statuses{0}, rejected{0};

 private:
  mutable std::mutex mu_;
  Snapshot snap_;
};

}  // namespace valtronics::util
