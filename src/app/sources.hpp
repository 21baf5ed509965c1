// The server's periodic sources, on I/O thread 0: the system sampler (a `system` update every
// second) and, in demo mode, the simulated devices, whose readings and status reports go
// through the engine like any device's.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "auth/abuse_monitor.hpp"
#include "engine/engine.hpp"
#include "engine/simulator.hpp"
#include "engine/system_metrics.hpp"
#include "hub/hub.hpp"
#include "session/connection_registry.hpp"

namespace valtronics::app {

class PeriodicSources {
 public:
  // `demo`: also run the device simulator (the engine seeds its devices at start()).
  PeriodicSources(boost::asio::io_context& ioc, hub::Hub& hub, engine::Engine& engine,
                  const session::ConnectionRegistry& registry, auth::AbuseMonitor& abuse,
                  bool demo);

  void start();
  void stop();  // on the context's thread
  // Figures appended to every system update (the cluster-wide ones); set before start().
  void add_system_figures(std::function<std::vector<std::pair<std::string, double>>()> f) {
    extra_figures_ = std::move(f);
  }

 private:
  void tick_system();
  void tick_demo();

  hub::Hub& hub_;
  engine::Engine& engine_;
  const session::ConnectionRegistry& registry_;
  auth::AbuseMonitor& abuse_;
  boost::asio::steady_timer system_timer_, demo_timer_;
  engine::SystemSampler sampler_;
  std::unique_ptr<engine::DemoSimulator> simulator_;
  std::uint64_t system_ticks_ = 0;
  bool stopped_ = false;
  std::function<std::vector<std::pair<std::string, double>>()> extra_figures_;
};

}  // namespace valtronics::app
