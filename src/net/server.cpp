// Server wiring. The acceptor, the periodic sources and the signal handler live on worker 0;
// every other worker only runs its own connections.
#include "net/server.hpp"
#include "config/limits.hpp"

#include <boost/asio/post.hpp>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include "net/http_session.hpp"
#include "net/ws_session.hpp"
#include "protocol/errors.hpp"

namespace valtronics::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::vector<asio::io_context*> contexts_of(std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<asio::io_context*> out;
  for (auto& w : workers) out.push_back(&w->ioc);
  return out;
}

std::vector<std::unique_ptr<Worker>> make_workers(unsigned n) {
  std::vector<std::unique_ptr<Worker>> out;
  for (unsigned i = 0; i < std::max(1u, n); ++i) out.push_back(std::make_unique<Worker>(i));
  return out;
}
}  // namespace

Server::Server(const config::Config& cfg)
    : cfg_(cfg),
      workers_(make_workers(cfg.threads)),
      hub_(std::make_unique<hub::Hub>(contexts_of(workers_))),
      engine_(std::make_unique<engine::Engine>(cfg, *hub_)),
      ctx_(std::make_unique<ServerContext>(cfg, *hub_)),
      acceptor_(workers_[0]->ioc),
      signals_(workers_[0]->ioc, SIGINT, SIGTERM),
      system_timer_(workers_[0]->ioc),
      demo_timer_(workers_[0]->ioc) {
  for (std::size_t i = 0; i < workers_.size(); ++i) workers_[i]->shard = &hub_->shard(i);
  ctx_->engine = engine_.get();
  asio::ip::tcp::endpoint ep{asio::ip::make_address(cfg.listen_host), cfg.listen_port};
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux: set once here rather than
  // once per connection (frames are corked by the server already, Nagle would only delay them).
  acceptor_.set_option(asio::ip::tcp::no_delay(true));
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  if (cfg.demo) simulator_ = std::make_unique<engine::DemoSimulator>();
}

Server::~Server() {
  // Nothing may outlive what it refers to: stop the engine (it posts to the workers), then end
  // every session still referenced by a worker while the hub and the context exist.
  engine_->stop();
  for (auto& w : workers_) {
    w->dirty.clear();
    w->ioc.restart();
    w->ioc.poll();
  }
}

void Server::run() {
  signals_.async_wait([this](error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received: shutting down", sig);
    shutdown();
  });
  engine_->start();
  if (simulator_) engine_->seed_demo(static_cast<int>(simulator_->devices().size()));
  do_accept();
  tick_system();
  if (simulator_) tick_demo();
  spdlog::info("listening on {}:{} with {} I/O thread(s)", cfg_.listen_host, port_, workers_.size());
  spdlog::default_logger()->flush();  // tests and scripts read the port from this line

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([w = workers_[i].get()] {
      auto guard = asio::make_work_guard(w->ioc);  // idle workers must not return early
      w->ioc.run();
    });
  }
  workers_[0]->ioc.run();
  for (auto& t : threads) t.join();
  // The engine first (it commits every queued write and posts its last replies and events to
  // the workers), then let closing sessions finish (each drops its socket within its close
  // linger) so that no handler still refers to a session, the hub or this server when they are
  // destroyed.
  engine_->stop();
  for (auto& w : workers_) {
    w->ioc.restart();
    w->ioc.run_for(std::chrono::seconds(3));
  }
}

void Server::stop() {
  asio::post(workers_[0]->ioc, [this] { shutdown(); });
}

void Server::do_accept() {
  Worker& target = *workers_[next_worker_++ % workers_.size()];
  acceptor_.async_accept(target.ioc, [this, &target](error_code ec, asio::ip::tcp::socket s) {
    if (stopping_) return;
    if (!ec) {
      // The session belongs to its worker from the first instant: it registers itself in that
      // worker's sets, which only the worker's own thread may touch.
      asio::post(target.ioc, [this, &target, s = std::move(s)]() mutable {
        start_http_session(std::move(s), target, *ctx_);
      });
    } else if (ec == asio::error::no_descriptors) {
      // Out of file descriptors: back off briefly instead of spinning on accept.
      spdlog::warn("accept: {}", ec.message());
      auto t = std::make_shared<asio::steady_timer>(workers_[0]->ioc, std::chrono::milliseconds(100));
      t->async_wait([this, t](error_code) { do_accept(); });
      return;
    }
    do_accept();
  });
}

void Server::tick_system() {
  if (stopping_) return;
  // Give freed heap pages back every 10 s: a burst of handshakes leaves freed memory scattered
  // through the heap, which glibc keeps mapped otherwise (the RSS would then report the burst,
  // not what is in use).
  if (++system_ticks_ % 10 == 0) malloc_trim(0);
  hub_->publish(sampler_.sample(ctx_->registry.active(), util::Clock::now()));
  system_timer_.expires_after(limits::kSystemSamplePeriod);
  system_timer_.async_wait([this](error_code ec) {
    if (!ec) tick_system();
  });
}

void Server::tick_demo() {
  if (stopping_) return;
  // The simulator plays the devices: its telemetry and status reports go through the engine like
  // any device's (rules raise the alerts; its own alert suggestions are not used).
  std::vector<model::TelemetryEvent> telemetry;
  for (auto& body : simulator_->step(util::Clock::now())) {
    if (auto* t = std::get_if<model::TelemetryEvent>(&body)) {
      telemetry.push_back(std::move(*t));
    } else if (auto* st = std::get_if<model::DeviceStatusEvent>(&body)) {
      engine_->report_status(st->device_id, engine::StatusReport{st->new_status, st->reason, {}},
                             [](const engine::ApiResult<model::Device>&) {});
    }
  }
  if (!telemetry.empty())
    engine_->ingest(std::move(telemetry), [](const engine::ApiResult<std::size_t>& r) {
      if (!r) spdlog::warn("demo ingest: {}", r.error().message);
    });
  demo_timer_.expires_after(limits::kDemoTickPeriod);
  demo_timer_.async_wait([this](error_code ec) {
    if (!ec) tick_demo();
  });
}

void Server::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  signals_.cancel(ignored);
  system_timer_.cancel();
  demo_timer_.cancel();
  for (auto& w : workers_) {
    asio::post(w->ioc, [w = w.get()] {
      // Copy: close() may end a session synchronously and erase it from the set.
      std::vector<WsSession*> sessions(w->sessions.begin(), w->sessions.end());
      for (auto* s : sessions) s->close(protocol::close_code::going_away, "server shutting down");
      std::vector<HttpConnection*> http(w->http_connections.begin(), w->http_connections.end());
      for (auto* h : http) h->close_now();
    });
  }
  // Give close frames a moment to leave, then stop every loop.
  auto t = std::make_shared<asio::steady_timer>(workers_[0]->ioc, std::chrono::milliseconds(300));
  t->async_wait([this, t](error_code) {
    for (auto& w : workers_) w->ioc.stop();
  });
}

}  // namespace valtronics::net
