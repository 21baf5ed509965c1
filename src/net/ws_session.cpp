// WebSocket transport: reading into the thread's buffer, corked non-blocking writes, deadlines,
// and the engine queries of the core's catch-ups, answered on this thread.
#include "net/ws_session.hpp"

#include <utility>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>

#include "config/limits.hpp"
#include "engine/engine.hpp"
#include "net/exact_allocator.hpp"
#include "util/socket_io.hpp"

namespace valtronics::net {

namespace asio = boost::asio;
using boost::system::error_code;
using State = session::Connection::State;

WsSession::WsSession(asio::ip::tcp::socket socket, Worker& worker, ServerContext& ctx,
                     Options opts, std::unique_ptr<TlsChannel> tls)
    : socket_(std::move(socket)),
      tls_(std::move(tls)),
      worker_(worker),
      ctx_(ctx),
      core_(*this, ctx.session, *worker.shard, std::move(opts)) {}

WsSession::~WsSession() { finish(); }

void WsSession::start(std::string early_bytes, std::optional<std::string> header_token) {
  worker_.sessions.insert(this);
  // TCP_NODELAY comes from the listening socket (Linux copies it to accepted ones), and reads and
  // writes pass MSG_DONTWAIT: no per-connection setsockopt or ioctl (connection set-up is ~20
  // syscalls, each one counts; docs/benchmarks.md).
  core_.start(early_bytes, std::move(header_token));
  if (core_.state() == State::closed) return;
  // Over TLS, OpenSSL may already hold decrypted bytes of the next record that the socket will
  // not announce again: read them first.
  if (tls_) on_readable({});
  else do_read();
}

void WsSession::close(std::uint16_t code, std::string reason) { core_.close(code, std::move(reason)); }

// ---------------------------------------------------------------------------------- reading

void WsSession::do_read() {
  // Wait for readability, then read into the worker's shared buffer: an idle connection holds
  // no read buffer of its own. The wait, pending for most of an idle connection's life, gets a
  // block of its own size (see exact_allocator.hpp).
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     asio::bind_allocator(ExactAllocator<void>(),
                                          [self = shared_from_this()](error_code ec) {
                                            self->on_readable(ec);
                                          }));
}

void WsSession::on_readable(error_code ec) {
  if (ec) {
    finish();
    return;
  }
  auto& buf = worker_.read_buffer;
  for (int reads = 0;; ++reads) {
    if (reads == limits::kMaxReadsPerWakeup) {
      // A peer that keeps the socket full (a flood) gets this many reads, then waits behind
      // the thread's other work: it cannot hold the I/O thread, and every other connection
      // on it, for as long as it sends. Over TLS OpenSSL may hold decrypted bytes the socket
      // will not announce again: come back through the queue rather than the socket.
      if (tls_)
        asio::post(worker_.ioc, [self = shared_from_this()] { self->on_readable({}); });
      else
        do_read();
      return;
    }
    const std::size_t n = receive(buf.data(), buf.size(), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) {
      // EOF or reset: the peer is gone (or finished the close handshake we started).
      finish();
      return;
    }
    worker_.flusher.input();
    core_.on_bytes(buf.data(), n);  // once closing, the core discards what the peer sends
    if (core_.state() == State::closed) return;
    if (!core_.wants_reads()) {
      // Closed for abuse: no more reads (the close linger or a write error ends the session).
      reads_stopped_ = true;
      return;
    }
    // The kernel had no more: wait again rather than spin. (TLS reads return one record at a
    // time, so only would_block says the socket is empty.)
    if (!tls_ && n < buf.size()) break;
  }
  do_read();
}

// ---------------------------------------------------------------------------------- writing

void WsSession::wants_write() {
  // Cork: frames queued while more are on their way (every event of the turn, every reply of a
  // batch, the events of requests still being handled) leave in one write (net/flusher.hpp).
  if (writing_ || flush_pending_ || finished_) return;
  flush_pending_ = true;
  worker_.flusher.dirty(shared_from_this());
}

void WsSession::flush() {
  flush_pending_ = false;
  write_now();
}

void WsSession::write_now() {
  if (writing_ || finished_) return;
  auto& out = core_.outbound();
  while (!out.empty()) {
    auto& iov = worker_.write_iov;
    iov.clear();
    out.gather(iov, limits::kMaxFramesPerWrite);
    error_code ec;
    const std::size_t n = send(iov.data(), iov.size(), ec);
    if (!on_sent(n, ec)) return;
  }
  after_drained();
}

bool WsSession::on_sent(std::size_t n, error_code ec) {
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    // The socket buffer is full: wait until the peer has read some (bounded by the core's
    // write-stall deadline).
    writing_ = true;
    core_.on_write_blocked();
    socket_.async_wait(asio::ip::tcp::socket::wait_write,
                       [self = shared_from_this()](error_code ec) { self->on_writable(ec); });
    return false;
  }
  if (ec) {
    error_code ignored;
    socket_.close(ignored);  // the pending read wait fails and calls finish()
    return false;
  }
  core_.on_written(n);
  return true;
}

bool WsSession::gather_for_batch(std::vector<iovec>& iov) {
  if (tls_ || writing_ || finished_ || core_.outbound().empty()) return false;
  flush_pending_ = false;
  core_.outbound().gather(iov, limits::kMaxFramesPerWrite);
  return true;
}

void WsSession::batch_sent(std::size_t n, error_code ec) {
  if (on_sent(n, ec)) write_now();  // the rest, if any; then a close's next step
}

void WsSession::abort_batch() {
  flush_pending_ = false;
  abort_transport();
}

std::size_t WsSession::receive(char* data, std::size_t size, error_code& ec) {
  if (tls_) return tls_->read(data, size, ec);
  return util::receive_now(socket_.native_handle(), data, size, ec);
}

std::size_t WsSession::send(const iovec* iov, std::size_t count, error_code& ec) {
  if (tls_) return tls_->write(iov, count, ec);
  return util::send_now(socket_.native_handle(), iov, count, ec);
}

void WsSession::after_drained() {
  if (core_.state() != State::closing) return;
  if (tls_) tls_->shutdown();  // close_notify after our close frame
  error_code ignored;
  if (core_.peer_closed())
    // Our close frame answered the peer's: the handshake is complete, and RFC 6455 (7.1.1)
    // has the server close the TCP connection first. The pending read fails and finishes us.
    socket_.close(ignored);
  else
    // Our close frame is out: half-close and wait (bounded) for the peer to finish.
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

void WsSession::on_writable(error_code ec) {
  writing_ = false;
  if (ec) {
    error_code ignored;
    socket_.close(ignored);
    return;
  }
  write_now();
}

// ---------------------------------------------------------------------------------- time and life

void WsSession::deadline_changed(session::SteadyTime when) {
  if (when == session::SteadyTime::max())
    worker_.deadlines.cancel(*this);
  else
    worker_.deadlines.schedule(*this, when);
}

void WsSession::on_deadline() {
  auto self = shared_from_this();  // what runs here may end the connection
  core_.on_deadline();
}

void WsSession::abort_transport() {
  error_code ignored;
  socket_.close(ignored);  // the pending read wait fails and calls finish()
  if (reads_stopped_) finish();  // no read is pending: finish here
}

void WsSession::finish() {
  if (finished_) return;
  finished_ = true;
  core_.finish();
  worker_.sessions.erase(this);
  worker_.deadlines.cancel(*this);
  error_code ignored;
  socket_.close(ignored);
}

// ---------------------------------------------------------------------------------- catch-up

template <class T>
std::function<void(T)> WsSession::on_this_thread(std::function<void(T)> done) {
  // The engine answers on its own (or the writer's) thread; the core runs on this one. The
  // session is kept alive until the answer ran; a finished core ignores it.
  return [self = shared_from_this(), done = std::move(done)](T result) mutable {
    auto& ioc = self->worker_.ioc;
    asio::post(ioc, [self = std::move(self), done = std::move(done),
                     result = std::move(result)]() mutable {
      if (!self->finished_) done(std::move(result));
    });
  };
}

void WsSession::telemetry_snapshot(const protocol::Filters& filters, const auth::Claims& claims,
                                   std::function<void(model::Snapshot<model::TelemetryEvent>)> done) {
  ctx_.engine->telemetry_snapshot(filters, claims, on_this_thread(std::move(done)));
}

void WsSession::status_snapshot(const protocol::Filters& filters, const auth::Claims& claims,
                                std::function<void(model::Snapshot<model::DeviceStatusEvent>)> done) {
  ctx_.engine->status_snapshot(filters, claims, on_this_thread(std::move(done)));
}

void WsSession::replay_alerts(std::int64_t since_id, const protocol::Filters& filters,
                              const auth::Claims& claims,
                              std::function<void(model::AlertReplay)> done) {
  ctx_.engine->replay_alerts(since_id, filters, claims, on_this_thread(std::move(done)));
}

}  // namespace valtronics::net
