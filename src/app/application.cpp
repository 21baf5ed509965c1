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
      hub_(server_.contexts(), cfg.limits.conflate_after),
      engine_(cfg, hub_),
      ctx_(cfg, hub_, engine_),
      mqtt_(cfg.mqtt.enabled() ? std::make_unique<mqtt::IngestLink>(cfg, engine_) : nullptr),
      sources_(server_.main_context(), hub_, engine_, ctx_.registry, ctx_.abuse, cfg.demo),
      signals_(server_.main_context(), SIGINT, SIGTERM),
      reload_(server_.main_context()) {
  if (mqtt_) ctx_.api.mqtt = &mqtt_->status();
  reload_.on_reload("tls", [this] { server_.reload_tls(); });
  reload_.on_reload("jwt keys", [this] {
    if (auto error = ctx_.verifier.reload_keys()) {
      spdlog::warn("SIGHUP: JWT keys not reloaded, keeping the previous ones: {}", *error);
    } else {
      spdlog::info("SIGHUP: JWT keys reloaded");
    }
  });
}

Application::~Application() {
  // Nothing may outlive what it refers to: stop the engine (it posts to the threads), then run
  // what is left of every handler while the hub and the context still exist.
  if (mqtt_) mqtt_->stop(std::chrono::milliseconds(0));  // if run() never ran or returned early
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
  reload_.start();
  engine_.start();
  if (mqtt_) mqtt_->start();
  sources_.start();
  server_.run(hub_, ctx_, [this] { engine_.stop(); });
}

void Application::stop() {
  boost::asio::post(server_.main_context(), [this] { shutdown(); });
}

void Application::shutdown() {
  watchdog_.arm(shutdown_timeout_);
  boost::system::error_code ignored;
  signals_.cancel(ignored);
  reload_.stop();
  // What the link read before the signal is applied (and written by the engine's drain).
  if (mqtt_) mqtt_->stop(shutdown_timeout_ / 2);
  sources_.stop();
  server_.stop();
}

}  // namespace valtronics::app
