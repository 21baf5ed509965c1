// Admission bookkeeping shared by every I/O thread: total connections (503 beyond the limit),
// connections not yet authenticated (limits.max_unauthenticated, 503 beyond: each holds a
// socket for up to auth.auth_timeout without proving anything), connections per user (4029
// beyond), and the counters behind /api/v1/ws/stats (the spec's
// ConnectionMonitor figures). Touched at connect, auth and close only, never per delivery;
// message counters are relaxed atomics.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace valtronics::session {

class ConnectionRegistry {
 public:
  ConnectionRegistry(std::size_t max_connections, std::size_t max_per_user,
                     std::size_t max_unauthenticated);

  enum class Admission { ok, at_max_connections, at_max_unauthenticated };
  // Reserves a slot for a new WebSocket connection, counted as unauthenticated until
  // authenticated(); nothing is taken unless `ok`.
  Admission try_open();
  // The connection's first successful auth: its unauthenticated slot is free again.
  void authenticated();
  // Releases the slot taken by try_open (and its unauthenticated slot unless
  // `was_authenticated`), recording how long the connection lived.
  void close(std::chrono::steady_clock::duration lived, bool was_authenticated);

  // Counts one more connection for `user`; false (nothing counted) when the user is at the limit
  // (its connections here and, in a cluster, on the other nodes: set_remote_users).
  bool try_add_user(const std::string& user);
  void remove_user(const std::string& user);

  // (cluster) The other nodes' connections per user, as their last heartbeats said: counted
  // against limits.max_connections_per_user with this node's own. About a second old, so the
  // limit holds cluster-wide within what the other nodes admitted in that second.
  using UserCounts = std::unordered_map<std::string, std::size_t>;
  void set_remote_users(UserCounts counts);
  UserCounts local_users() const;  // this node's connections per user (for its heartbeat)

  void count_received(std::uint64_t n = 1) { received_.fetch_add(n, std::memory_order_relaxed); }
  // `n` messages sent in `writes` socket writes (the cork's measure: messages per write).
  void count_sent(std::uint64_t n = 1, std::uint64_t writes = 0) {
    sent_.fetch_add(n, std::memory_order_relaxed);
    if (writes) socket_writes_.fetch_add(writes, std::memory_order_relaxed);
  }
  // A connection closed because it read nothing for limits.write_timeout.
  void count_write_timeout() { write_timeouts_.fetch_add(1, std::memory_order_relaxed); }

  // Reloaded limits (SIGHUP; the caller has every I/O thread paused): connections above them
  // stay open, new ones are refused until below.
  void set_limits(std::size_t max_connections, std::size_t max_per_user,
                  std::size_t max_unauthenticated) {
    std::lock_guard lock(mutex_);
    max_connections_ = max_connections;
    max_per_user_ = max_per_user;
    max_unauthenticated_ = max_unauthenticated;
  }

  std::uint64_t active() const { return active_.load(std::memory_order_relaxed); }
  std::uint64_t unauthenticated() const { return unauthenticated_.load(std::memory_order_relaxed); }

  struct Stats {
    std::uint64_t total_connections, active_connections, messages_received, messages_sent;
    double average_connection_duration_s;  // over closed and still open connections
    double messages_per_connection;        // (received + sent) / total
    std::uint64_t write_timeouts;          // closed for reading nothing for write_timeout
    std::uint64_t unauthenticated_connections;  // open, not yet authenticated
    std::uint64_t socket_writes;                // writes that sent WebSocket frames
  };
  Stats stats() const;

 private:
  std::size_t max_connections_, max_per_user_, max_unauthenticated_;
  std::atomic<std::uint64_t> unauthenticated_{0};
  std::atomic<std::uint64_t> active_{0}, total_{0}, received_{0}, sent_{0}, write_timeouts_{0},
      socket_writes_{0};
  mutable std::mutex mutex_;  // guards the maps and duration sums below
  std::unordered_map<std::string, std::size_t> per_user_;
  UserCounts remote_users_;
  double closed_duration_s_ = 0;
  std::uint64_t closed_ = 0;
  double open_start_sum_s_ = 0;  // sum of start times (steady, seconds) of open connections
};

}  // namespace valtronics::session
