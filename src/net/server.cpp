// The acceptor and the I/O threads. The acceptor lives on thread 0; every other thread only runs
// its own connections.
#include "net/server.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <csignal>
#include <thread>

#include "net/http_session.hpp"
#include "net/thread_pause.hpp"
#include "net/ws_session.hpp"
#include "protocol/errors.hpp"
#include "util/thread_name.hpp"

namespace valtronics::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
std::vector<std::unique_ptr<Worker>> make_workers(unsigned n) {
  std::vector<std::unique_ptr<Worker>> out;
  for (unsigned i = 0; i < std::max(1u, n); ++i) out.push_back(std::make_unique<Worker>(i));
  return out;
}

void open_listener(asio::ip::tcp::acceptor& acceptor, const std::string& host,
                   std::uint16_t port) {
  asio::ip::tcp::endpoint ep{asio::ip::make_address(host), port};
  acceptor.open(ep.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(ep);
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux: set once here rather than
  // once per connection (frames are corked by the server already, Nagle would only delay them).
  acceptor.set_option(asio::ip::tcp::no_delay(true));
  acceptor.listen(asio::socket_base::max_listen_connections);
}
}  // namespace

Server::Server(const config::Config& cfg)
    : cfg_(cfg),
      workers_(make_workers(cfg.threads)),
      tls_(cfg.tls.enabled() ? std::make_unique<TlsContextStore>(cfg.tls) : nullptr),
      acceptor_(workers_[0]->ioc) {
  // OpenSSL writes TLS records with write(2), not send(MSG_NOSIGNAL) as the plain paths do: a
  // peer gone mid-write would raise SIGPIPE and end the process.
  if (tls_) std::signal(SIGPIPE, SIG_IGN);
  open_listener(acceptor_, cfg.listen_host, cfg.listen_port);
  port_ = acceptor_.local_endpoint().port();
  if (tls_ && !cfg.listen_plain_host.empty()) {
    plain_acceptor_.emplace(workers_[0]->ioc);
    open_listener(*plain_acceptor_, cfg.listen_plain_host, cfg.listen_plain_port);
    plain_port_ = plain_acceptor_->local_endpoint().port();
  }
  if (cfg.metrics.listen_enabled()) {
    metrics_acceptor_.emplace(workers_[0]->ioc);
    open_listener(*metrics_acceptor_, cfg.metrics.listen_host, cfg.metrics.listen_port);
    metrics_port_ = metrics_acceptor_->local_endpoint().port();
  }
}

void Server::reload_tls() {
  if (tls_) tls_->reload();
}

Server::~Server() = default;

std::vector<asio::io_context*> Server::contexts() {
  std::vector<asio::io_context*> out;
  for (auto& w : workers_) out.push_back(&w->ioc);
  return out;
}

void Server::drain_handlers() {
  for (auto& w : workers_) {
    w->flusher.clear();
    w->ioc.restart();
    w->ioc.poll();
  }
}

void Server::run(hub::Hub& hub, ServerContext& ctx, const std::function<void()>& before_drain) {
  ctx_ = &ctx;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    w->shard = &hub.shard(i);
    w->flusher.attach(hub, i, cfg_.server.io_uring);
    // Called by whichever thread finishes the last ingest in flight: back to this thread.
    w->shard->set_wake([w] { asio::post(w->ioc, [w] { w->flusher.on_wake(); }); });
  }
  do_accept(acceptor_, {.tls = tls_ != nullptr});
  // Tests and scripts read the (first) port from the "listening on" line.
  spdlog::info("listening on {}:{} with {} I/O thread(s){}", cfg_.listen_host, port_,
               workers_.size(),
               tls_ ? cfg_.tls.ca_file.empty() ? " (TLS)" : " (TLS, client certificates required)"
                    : "");
  if (plain_acceptor_) {
    do_accept(*plain_acceptor_, {});
    spdlog::info("plain listener on {}:{} (no TLS)", cfg_.listen_plain_host, plain_port_);
  }
  if (metrics_acceptor_) {
    do_accept(*metrics_acceptor_, {.metrics_only = true});
    spdlog::info("metrics listener on {}:{} (GET /metrics only)", cfg_.metrics.listen_host,
                 metrics_port_);
  }
  spdlog::info("socket writes: {}", workers_.front()->flusher.write_method());
  spdlog::default_logger()->flush();  // tests and scripts read the port from this line

  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    threads.emplace_back([i, w = workers_[i].get()] {
      util::name_this_thread("vt-io-" + std::to_string(i));
      auto guard = asio::make_work_guard(w->ioc);  // idle workers must not return early
      w->ioc.run();
    });
  }
  workers_[0]->ioc.run();
  for (auto& t : threads) t.join();
  // The engine first (it commits every queued write and posts its last replies and events to
  // the workers), then let closing sessions finish (each drops its socket within its close
  // linger) so that no handler still refers to a session, the hub or the context when they are
  // destroyed.
  before_drain();
  // Every thread's loop at once, as while serving: one after the other, N threads could take
  // N times the linger and overrun server.shutdown_timeout.
  auto finish = [](Worker* w) {
    w->ioc.restart();
    w->ioc.run_for(std::chrono::seconds(3));
  };
  std::vector<std::thread> finishing;
  for (std::size_t i = 1; i < workers_.size(); ++i)
    finishing.emplace_back(finish, workers_[i].get());
  finish(workers_[0].get());
  for (auto& t : finishing) t.join();
}

bool Server::with_threads_paused(const std::function<void()>& change,
                                 std::chrono::milliseconds wait) {
  std::vector<asio::io_context*> others;
  for (std::size_t i = 1; i < workers_.size(); ++i) others.push_back(&workers_[i]->ioc);
  return run_with_others_parked(others, change, wait);
}

void Server::stop() {
  asio::post(workers_[0]->ioc, [this] { shutdown(); });
}

void Server::do_accept(asio::ip::tcp::acceptor& acceptor, Listener kind) {
  Worker& target = *workers_[next_worker_++ % workers_.size()];
  acceptor.async_accept(target.ioc, [this, &acceptor, kind, &target](error_code ec,
                                                                     asio::ip::tcp::socket s) {
    if (stopping_) return;
    if (!ec) {
      // The session belongs to its worker from the first instant: it registers itself in that
      // worker's sets, which only the worker's own thread may touch. A TLS connection takes the
      // context current at its accept (a reload after it does not change it).
      SslCtxPtr ctx = kind.tls ? tls_->current() : nullptr;
      asio::post(target.ioc, [this, &target, s = std::move(s), ctx = std::move(ctx),
                              kind]() mutable {
        if (ctx) start_https_session(std::move(s), ctx.get(), target, *ctx_);
        else start_http_session(std::move(s), target, *ctx_, kind.metrics_only);
      });
    } else if (ec == asio::error::no_descriptors) {
      // Out of file descriptors: back off briefly instead of spinning on accept.
      spdlog::warn("accept: {}", ec.message());
      auto t = std::make_shared<asio::steady_timer>(workers_[0]->ioc, std::chrono::milliseconds(100));
      t->async_wait([this, t, &acceptor, kind](error_code) { do_accept(acceptor, kind); });
      return;
    }
    do_accept(acceptor, kind);
  });
}

void Server::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  error_code ignored;
  acceptor_.close(ignored);
  if (plain_acceptor_) plain_acceptor_->close(ignored);
  if (metrics_acceptor_) metrics_acceptor_->close(ignored);
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
