// The composition root's wiring and lifecycle.
#include "app/application.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <string>

namespace valtronics::app {

namespace {
// cluster.node_id, or the host name and the port: unique per machine, stable across restarts.
std::string node_id(const config::Config& cfg, std::uint16_t port) {
  if (!cfg.cluster.node_id.empty()) return cfg.cluster.node_id;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || !*host) std::snprintf(host, sizeof host, "node");
  std::string id;
  for (const char* c = host; *c; ++c)  // NATS subjects: letters, digits, '-' and '_' only
    id += (std::isalnum(static_cast<unsigned char>(*c)) || *c == '-' || *c == '_') ? *c : '-';
  return id + "-" + std::to_string(port);
}

// The dashboard's files (api/static_files.hpp), and a line saying where they come from.
std::optional<api::StaticFiles> load_dashboard(const config::Config& cfg) {
  const auto root = api::StaticFiles::resolve_root(cfg.server.web_root);
  auto files = api::StaticFiles::load(root);
  if (files) {
    spdlog::info("dashboard: serving {} ({} files, {} KB) at /", files->root().string(),
                 files->size(), (files->bytes() + 1023) / 1024);
  } else if (!cfg.server.web_root.empty()) {
    spdlog::warn("dashboard: server.web_root {} holds no index.html; / answers 404",
                 cfg.server.web_root);
  } else {
    spdlog::info("dashboard: none built (looked in {}); / answers 404 until `make` builds it",
                 api::StaticFiles::candidates(cfg.server.web_root));
  }
  return files;
}
}  // namespace

Application::Application(config::Config& cfg, std::function<config::Config()> reread)
    : watchdog_([this] {
        const auto storage = engine_.storage_health();
        return std::to_string(storage.queued) + " database write(s) not committed" +
               (storage.available ? "" : " (storage unavailable: " + storage.last_error + ")");
      }),
      cfg_(cfg),
      reread_(std::move(reread)),
      shutdown_timeout_(cfg.server.shutdown_timeout),
      web_(load_dashboard(cfg)),
      server_(cfg),
      hub_(server_.contexts(), cfg.limits.conflate_after),
      engine_(cfg, hub_),
      reader_(std::make_unique<store::Reader>(engine_.store_location())),
      ctx_(cfg, hub_, engine_),
      cluster_(cfg.cluster.enabled() ? std::make_unique<cluster::Node>(
                                           cfg, node_id(cfg, server_.port()), engine_, hub_,
                                           ctx_.registry)
                                     : nullptr),
      mqtt_(cfg.mqtt.enabled() ? std::make_unique<mqtt::IngestLink>(cfg, engine_) : nullptr),
      sources_(server_.main_context(), hub_, engine_, ctx_.registry, ctx_.abuse, cfg.demo),
      signals_(server_.main_context(), SIGINT, SIGTERM),
      reload_(server_.main_context()) {
  ctx_.api.reader = reader_.get();
  if (mqtt_) ctx_.api.mqtt = &mqtt_->status();
  if (web_) ctx_.api.web = &*web_;
  if (cluster_) {
    ctx_.api.cluster = api::Context::ClusterView{[this] { return cluster_->describe(); },
                                                 [this] { return cluster_->nats_connected(); }};
    sources_.add_system_figures([this] { return cluster_->cluster_figures(); });
  }
  // The configuration first: a reload that changed limits or origins is in force before the
  // files are read again.
  if (reread_) reload_.on_reload("configuration", [this] { reload_config(); });
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
  if (cluster_) cluster_->stop();
  engine_.stop();
  reader_->stop();
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
  if (cluster_) cluster_->start();
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
  // Its partitions go to the other nodes, with their state committed (the engine still runs).
  if (cluster_) cluster_->stop();
  sources_.stop();
  server_.stop();
}

}  // namespace valtronics::app
