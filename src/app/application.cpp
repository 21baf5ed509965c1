// The composition root's wiring and lifecycle.
#include "app/application.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <string>

namespace valtronics::app {

Application::Application(const config::Config& cfg)
    : watchdog_([this] {
        const auto storage = engine_.storage_health();
        return std::to_string(storage.queued) + " database write(s) not committed" +
               (storage.available ? "" : " (storage unavailable: " + storage.last_error + ")");
      }),
      shutdown_timeout_(cfg.server.shutdown_timeout),
      server_(cfg),
      hub_(server_.contexts()),
      engine_(cfg, hub_),
      ctx_(cfg, hub_, engine_),
      sources_(server_.main_context(), hub_, engine_, ctx_.registry, cfg.demo),
      signals_(server_.main_context(), SIGINT, SIGTERM),
      key_reload_signals_(server_.main_context(), SIGHUP) {}

Application::~Application() {
  // Nothing may outlive what it refers to: stop the engine (it posts to the threads), then run
  // what is left of every handler while the hub and the context still exist.
  engine_.stop();
  server_.drain_handlers();
  watchdog_.forget_pending();  // the engine is destroyed next
}

void Application::run() {
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received: shutting down", sig);
    shutdown();
  });
  watch_key_reload();
  engine_.start();
  sources_.start();
  server_.run(hub_, ctx_, [this] { engine_.stop(); });
}

void Application::watch_key_reload() {
  key_reload_signals_.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    if (auto error = ctx_.verifier.reload_keys()) {
      spdlog::warn("SIGHUP: JWT keys not reloaded, keeping the previous ones: {}", *error);
    } else {
      spdlog::info("SIGHUP: JWT keys reloaded");
    }
    watch_key_reload();
  });
}

void Application::stop() {
  boost::asio::post(server_.main_context(), [this] { shutdown(); });
}

void Application::shutdown() {
  watchdog_.arm(shutdown_timeout_);
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  key_reload_signals_.cancel(ignored);
  sources_.stop();
  server_.stop();
}

}  // namespace valtronics::app
