// What every connection needs from the server, gathered in one place: configuration, the token
// verifier, admission bookkeeping, the hub, and the I/O thread ("worker") it lives on.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>
#include <cstddef>
#include <unordered_set>
#include <sys/uio.h>

#include "api/context.hpp"
#include "auth/abuse_monitor.hpp"
#include "auth/jwt.hpp"
#include "auth/rate_limit.hpp"
#include "config/config.hpp"
#include "hub/hub.hpp"
#include "session/connection_registry.hpp"
#include "net/client_address.hpp"
#include "net/connection_cap.hpp"
#include "net/deadlines.hpp"
#include "net/flusher.hpp"
#include "protocol/parse.hpp"
#include "session/connection.hpp"

namespace valtronics::net {

class WsSession;

// A plain HTTP connection, closed at once on shutdown (it has no close handshake to wait for).
class HttpConnection {
 public:
  virtual ~HttpConnection() = default;
  virtual void close_now() = 0;
};

// One I/O thread: its io_context, its hub shard, and the WebSocket sessions living on it (only
// that thread touches `sessions`; shutdown walks it from there).
struct Worker {
  explicit Worker(std::size_t i) : deadlines(&ioc), ioc(1), index(i) {}
  ~Worker() {  // their timers and sessions go before the io_context
    deadlines.stop();
    flusher.stop();
  }
  // Declared before the io_context so they outlive it: handlers destroyed with the context may
  // end sessions, which unregister themselves here.
  std::unordered_set<WsSession*> sessions;
  std::unordered_set<HttpConnection*> http_connections;
  // The sessions' auth, token and close deadlines: one timer for the thread.
  Deadlines deadlines;
  // Scratch shared by the sessions of this thread (only one runs at a time): frames are read
  // into one buffer and gathered into one iovec list, so an idle connection owns neither.
  std::array<char, 64 * 1024> read_buffer;
  std::vector<iovec> write_iov;
  // Sessions with queued frames and when they are written (the cork, net/flusher.hpp).
  Flusher flusher{ioc};

  boost::asio::io_context ioc;
  std::size_t index;
  hub::Shard* shard = nullptr;
};

struct ServerContext {
  ServerContext(const config::Config& c, hub::Hub& h, engine::Engine& e)
      : cfg(c),
        verifier(c.auth),
        registry(c.limits.max_connections, c.limits.max_connections_per_user,
                 c.limits.max_unauthenticated),
        connection_limiter(c.limits.connections_per_minute),
        trusted_proxies(c.server.trusted_proxies),
        abuse({c.limits.auth_failures_before_ban, c.limits.auth_failure_window,
               c.limits.ban_duration}),
        hub(h),
        engine(&e) {
    parse_options.max_batch = c.limits.max_batch;
    parse_options.system_default_frequency = c.system.default_frequency;
    parse_options.system_min_frequency = c.system.min_frequency;
    for (const auto& entry : c.metrics.allow)
      if (auto net = util::IpNetwork::parse(entry)) api.metrics_allow.push_back(*net);
    api.http_connections = [this] { return static_cast<std::uint64_t>(http_cap.open()); };
  }
  const config::Config& cfg;
  auth::JwtVerifier verifier;
  session::ConnectionRegistry registry;
  auth::ConnectionRateLimiter connection_limiter;
  // Peers whose forwarding headers are believed (server.trusted_proxies; net/client_address).
  TrustedProxies trusted_proxies;
  // Bad tokens, bans and limit violations per client address (thread-safe).
  auth::AbuseMonitor abuse;
  hub::Hub& hub;
  protocol::ParseOptions parse_options;
  // The domain engine (devices, rules, alerts).
  engine::Engine* engine;
  // The newest alert id known to be stored (published, hence committed), shared by the sessions
  // of every thread: raised by every alert they see and every alerts query they make. It only
  // makes the `last_alert_id` query cheap (it reads the alerts above it); its value never decides
  // what a client receives.
  std::atomic<std::int64_t> newest_alert_id{0};
  // What every connection's protocol core shares (refers to the members above).
  session::Context session{cfg, verifier, registry, parse_options, newest_alert_id, abuse};
  // Plain HTTP connections open at once (limits.max_http_connections).
  ConnectionCap http_cap{cfg.limits.max_http_connections};
  // What the HTTP API needs (refers to the members above).
  api::Context api{cfg, verifier, *engine, registry, hub, abuse};
};

}  // namespace valtronics::net
