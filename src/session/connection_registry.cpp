// Admission counters and ConnectionMonitor figures.
#include "session/connection_registry.hpp"

namespace valtronics::session {

namespace {
double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ConnectionRegistry::ConnectionRegistry(std::size_t max_connections, std::size_t max_per_user,
                                       std::size_t max_unauthenticated)
    : max_connections_(max_connections),
      max_per_user_(max_per_user),
      max_unauthenticated_(max_unauthenticated) {}

ConnectionRegistry::Admission ConnectionRegistry::try_open() {
  std::lock_guard lock(mutex_);
  if (active_.load() >= max_connections_) return Admission::at_max_connections;
  if (unauthenticated_.load() >= max_unauthenticated_) return Admission::at_max_unauthenticated;
  active_.fetch_add(1);
  unauthenticated_.fetch_add(1);
  total_.fetch_add(1);
  open_start_sum_s_ += steady_seconds();
  return Admission::ok;
}

void ConnectionRegistry::authenticated() {
  unauthenticated_.fetch_sub(1);
}

void ConnectionRegistry::close(std::chrono::steady_clock::duration lived, bool was_authenticated) {
  std::lock_guard lock(mutex_);
  const double s = std::chrono::duration<double>(lived).count();
  active_.fetch_sub(1);
  if (!was_authenticated) unauthenticated_.fetch_sub(1);
  closed_duration_s_ += s;
  ++closed_;
  open_start_sum_s_ -= steady_seconds() - s;
}

bool ConnectionRegistry::try_add_user(const std::string& user) {
  std::lock_guard lock(mutex_);
  auto& n = per_user_[user];
  std::size_t elsewhere = 0;
  if (!remote_users_.empty())
    if (auto it = remote_users_.find(user); it != remote_users_.end()) elsewhere = it->second;
  if (n + elsewhere >= max_per_user_) {
    if (n == 0) per_user_.erase(user);
    return false;
  }
  ++n;
  return true;
}

void ConnectionRegistry::set_remote_users(UserCounts counts) {
  std::lock_guard lock(mutex_);
  remote_users_ = std::move(counts);
}

ConnectionRegistry::UserCounts ConnectionRegistry::local_users() const {
  std::lock_guard lock(mutex_);
  return per_user_;
}

void ConnectionRegistry::remove_user(const std::string& user) {
  std::lock_guard lock(mutex_);
  auto it = per_user_.find(user);
  if (it == per_user_.end()) return;
  if (--it->second == 0) per_user_.erase(it);
}

ConnectionRegistry::Stats ConnectionRegistry::stats() const {
  std::lock_guard lock(mutex_);
  Stats s{};
  s.total_connections = total_.load();
  s.active_connections = active_.load();
  s.messages_received = received_.load();
  s.messages_sent = sent_.load();
  const double open_duration = s.active_connections * steady_seconds() - open_start_sum_s_;
  s.average_connection_duration_s =
      s.total_connections ? (closed_duration_s_ + open_duration) / s.total_connections : 0.0;
  s.messages_per_connection =
      s.total_connections
          ? double(s.messages_received + s.messages_sent) / double(s.total_connections)
          : 0.0;
  s.write_timeouts = write_timeouts_.load();
  s.socket_writes = socket_writes_.load();
  s.unauthenticated_connections = unauthenticated_.load();
  return s;
}

}  // namespace valtronics::session
