// The composition root: builds the running server out of its parts and wires them, in the order
// their lifetimes need. The I/O threads and the listening socket (net::Server), the hub (one
// shard per thread), the domain engine (its own thread, the store behind it), the context every
// connection shares, and the periodic sources. Nothing below app/ knows how they are put
// together.
#pragma once

#include <boost/asio/signal_set.hpp>
#include <cstdint>
#include <memory>

#include "app/shutdown_watchdog.hpp"
#include "app/reload_signal.hpp"
#include "app/sources.hpp"
#include "api/static_files.hpp"
#include "cluster/node.hpp"
#include "config/config.hpp"
#include "engine/engine.hpp"
#include "hub/hub.hpp"
#include "mqtt/ingest_link.hpp"
#include "net/server.hpp"
#include "net/server_context.hpp"
#include "store/reader.hpp"

namespace valtronics::app {

class Application {
 public:
  // Binds the listener and opens the database (throws std::system_error / store::StoreError
  // with a clear message). Nothing runs until run(). `cfg` outlives the Application; SIGHUP
  // changes its live keys (limits, allowed origins, log level) to what `reread` returns (the
  // file read again, flags and environment applied, validated; it throws config::ConfigError
  // for a bad file, and the running configuration stays). No `reread`: SIGHUP rereads only
  // the TLS and key files.
  explicit Application(config::Config& cfg, std::function<config::Config()> reread = {});
  ~Application();

  std::uint16_t port() const { return server_.port(); }
  std::uint16_t plain_port() const { return server_.plain_port(); }
  std::uint16_t metrics_port() const { return server_.metrics_port(); }

  // Serves until SIGINT/SIGTERM or stop(); then closes every WebSocket with 1001 and returns.
  // The drain (this and the destructor) is bounded by server.shutdown_timeout: past it the
  // process exits with config::kExitShutdownTimeout (app/shutdown_watchdog.hpp).
  // SIGHUP reloads what was read from files (see ReloadSignal).
  void run();
  void stop();  // thread-safe

 private:
  void shutdown();  // on I/O thread 0
  // SIGHUP's first step (app/config_reload.cpp): the configuration file read again and its
  // live keys applied with every I/O thread paused; the other keys wait for a restart.
  void reload_config();

  // Declaration order is lifetime order: the threads' contexts outlive everything that posts to
  // them or is referred to by their handlers. The watchdog first: it outlives the whole drain.
  ShutdownWatchdog watchdog_;
  config::Config& cfg_;
  std::function<config::Config()> reread_;
  std::chrono::milliseconds shutdown_timeout_;
  // The dashboard's files (issue 14; server.web_root), read once before any thread serves them;
  // empty when no built dashboard was found (then / answers 404 saying how to build it).
  std::optional<api::StaticFiles> web_;
  net::Server server_;
  hub::Hub hub_;
  engine::Engine engine_;  // after the hub: it publishes there until stopped
  // Telemetry history reads (issue 14): their own threads and connections to the engine's
  // store; stopped before the handlers are drained (their answers post to the I/O threads).
  std::unique_ptr<store::Reader> reader_;
  net::ServerContext ctx_;
  // The cluster node (cluster.nats_url; null without): after the engine and the context whose
  // registry it reads; it sets the engine's partitioning and the hub's export before either
  // runs, and hands its partitions over before the engine stops.
  std::unique_ptr<cluster::Node> cluster_;
  // MQTT ingest (mqtt.url; null without): after the engine it feeds, stopped before it.
  std::unique_ptr<mqtt::IngestLink> mqtt_;
  PeriodicSources sources_;
  boost::asio::signal_set signals_;
  ReloadSignal reload_;  // SIGHUP: files read again (TLS certificate, JWT keys)
};

}  // namespace valtronics::app
