// The composition root's wiring and lifecycle.
#include "app/application.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace valtronics::app {

Application::Application(const config::Config& cfg)
    : server_(cfg),
      hub_(server_.contexts()),
      engine_(cfg, hub_),
      ctx_(cfg, hub_, engine_),
      sources_(server_.main_context(), hub_, engine_, ctx_.registry, cfg.demo),
      signals_(server_.main_context(), SIGINT, SIGTERM),
      reload_(server_.main_context()) {
  reload_.on_reload("tls", [this] { server_.reload_tls(); });
}

Application::~Application() {
  // Nothing may outlive what it refers to: stop the engine (it posts to the threads), then run
  // what is left of every handler while the hub and the context still exist.
  engine_.stop();
  server_.drain_handlers();
}

void Application::run() {
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received: shutting down", sig);
    shutdown();
  });
  reload_.start();
  engine_.start();
  sources_.start();
  server_.run(hub_, ctx_, [this] { engine_.stop(); });
}

void Application::stop() {
  boost::asio::post(server_.main_context(), [this] { shutdown(); });
}

void Application::shutdown() {
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  reload_.stop();
  sources_.stop();
  server_.stop();
}

}  // namespace valtronics::app
