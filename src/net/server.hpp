// The running server: N I/O threads (one io_context and one hub shard each), the acceptor that
// spreads connections over them round-robin, the periodic sources (system sampler, demo
// simulator) and graceful shutdown on SIGINT/SIGTERM.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "engine/engine.hpp"
#include "engine/simulator.hpp"
#include "engine/system_metrics.hpp"
#include "hub/hub.hpp"
#include "net/server_context.hpp"

namespace valtronics::net {

class Server {
 public:
  // Binds the listening socket (throws std::system_error naming the address if it cannot).
  explicit Server(const config::Config& cfg);
  ~Server();

  // Serves until SIGINT/SIGTERM or stop(); then closes every WebSocket with 1001 and returns.
  void run();
  void stop();

  std::uint16_t port() const { return port_; }

 private:
  void do_accept();
  void tick_system();
  void tick_demo();
  void shutdown();

  const config::Config& cfg_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<hub::Hub> hub_;
  std::unique_ptr<engine::Engine> engine_;  // after the hub: it publishes there until stopped
  std::unique_ptr<ServerContext> ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer system_timer_, demo_timer_;
  engine::SystemSampler sampler_;
  std::unique_ptr<engine::DemoSimulator> simulator_;
  std::size_t next_worker_ = 0;
  std::uint64_t system_ticks_ = 0;
  std::uint16_t port_ = 0;
  bool stopping_ = false;
};

}  // namespace valtronics::net
