// The network side of the server: N I/O threads (one io_context each), the listening socket and
// the acceptor that spreads connections over the threads round-robin, and the orderly end of
// every connection at shutdown. What the connections talk to (hub, engine, configuration) is
// made by the composition root (app/application) and handed in through ServerContext.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "config/config.hpp"
#include "hub/hub.hpp"
#include "net/server_context.hpp"
#include "net/tls_context.hpp"

namespace valtronics::net {

class Server {
 public:
  // Makes the I/O threads' contexts and binds the listening socket (throws std::system_error
  // naming the address if it cannot), and with TLS on the plain one beside it if configured
  // and the TLS context (throws TlsError naming the file). Nothing is accepted before run().
  explicit Server(const config::Config& cfg);
  ~Server();

  // One context per I/O thread (the hub makes one shard for each).
  std::vector<boost::asio::io_context*> contexts();
  // I/O thread 0's context: the acceptor lives there, and the composition root puts its signal
  // handler and periodic sources there too.
  boost::asio::io_context& main_context() { return workers_[0]->ioc; }
  std::uint16_t port() const { return port_; }
  // The plain listener's port beside TLS (0: none).
  std::uint16_t plain_port() const { return plain_port_; }
  // The port of metrics.listen, the listener serving only GET /metrics (0: none).
  std::uint16_t metrics_port() const { return metrics_port_; }

  // Reads the TLS certificate and key again (SIGHUP): new connections use them, open ones keep
  // theirs; a bad file is logged and the old context kept. No-op without TLS. Thread-safe.
  void reload_tls();

  // Serves until stop(): accepts, runs every thread's loop. Then calls `before_drain` (the
  // engine stops there and posts its last replies and events to the threads), lets closing
  // sessions finish within their close linger, and returns. `hub` gives each thread its shard;
  // `ctx` must outlive the Server.
  void run(hub::Hub& hub, ServerContext& ctx, const std::function<void()>& before_drain);
  // On I/O thread 0 (a handler there, e.g. SIGHUP's): runs `change` while every other I/O thread
  // is parked in a handler of its own, so that nothing reads what it changes (the live keys of
  // a reloaded configuration). False, and `change` not run, when a thread did not park within
  // `wait` (it is stuck or the server is stopping).
  bool with_threads_paused(const std::function<void()>& change, std::chrono::milliseconds wait);
  // Thread-safe: stops accepting, closes every WebSocket with 1001 and every idle HTTP
  // connection, then stops the loops.
  void stop();
  // Runs whatever handlers are left so that no handler refers to a session, the hub or the
  // context once they are destroyed (the composition root calls it before destroying them).
  void drain_handlers();

 private:
  // What a listener's connections are: TLS or plain, all routes or GET /metrics only.
  struct Listener {
    bool tls = false;
    bool metrics_only = false;
  };
  void do_accept(boost::asio::ip::tcp::acceptor& acceptor, Listener kind);
  void shutdown();  // on thread 0

  const config::Config& cfg_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<TlsContextStore> tls_;  // null without TLS
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<boost::asio::ip::tcp::acceptor> plain_acceptor_;  // beside TLS, if configured
  std::uint16_t plain_port_ = 0;
  std::optional<boost::asio::ip::tcp::acceptor> metrics_acceptor_;  // metrics.listen
  std::uint16_t metrics_port_ = 0;
  ServerContext* ctx_ = nullptr;
  std::size_t next_worker_ = 0;
  std::uint16_t port_ = 0;
  bool stopping_ = false;
};

}  // namespace valtronics::net
