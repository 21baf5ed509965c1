// The acceptor and the I/O threads. The acceptor lives on thread 0; every other thread only runs
// its own connections.
#include "net/server.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>
#include <thread>

#include "net/http_session.hpp"
#include "net/ws_session.hpp"
#include "protocol/errors.hpp"

namespace valtronics::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
std::vector<std::unique_ptr<Worker>> make_workers(unsigned n) {
  std::vector<std::unique_ptr<Worker>> out;
  for (unsigned i = 0; i < std::max(1u, n); ++i) out.push_back(std::make_unique<Worker>(i));
  return out;
}
}  // namespace

Server::Server(const config::Config& cfg)
    : cfg_(cfg), workers_(make_workers(cfg.threads)), acceptor_(workers_[0]->ioc) {
  asio::ip::tcp::endpoint ep{asio::ip::make_address(cfg.listen_host), cfg.listen_port};
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux: set once here rather than
  // once per connection (frames are corked by the server already, Nagle would only delay them).
  acceptor_.set_option(asio::ip::tcp::no_delay(true));
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
}

Server::~Server() = default;

std::vector<asio::io_context*> Server::contexts() {
  std::vector<asio::io_context*> out;
  for (auto& w : workers_) out.push_back(&w->ioc);
  return out;
}

void Server::drain_handlers() {
  for (auto& w : workers_) {
    w->dirty.clear();
    w->ioc.restart();
    w->ioc.poll();
  }
}

void Server::run(hub::Hub& hub, ServerContext& ctx, const std::function<void()>& before_drain) {
  ctx_ = &ctx;
  for (std::size_t i = 0; i < workers_.size(); ++i) workers_[i]->shard = &hub.shard(i);
  do_accept();
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

void Server::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  error_code ignored;
  acceptor_.close(ignored);
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
