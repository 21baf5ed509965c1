// One WebSocket connection after the upgrade, on the transport side: the socket, reads into the
// thread's shared buffer, corked non-blocking writes, and the connection's place in its thread's
// deadline heap. Everything the protocol decides (auth, subscriptions, delivery, catch-up,
// limits, keepalive) is in the IO-free core it drives, session::Connection; this class only
// carries bytes and time to it and its frames to the socket.
//
// Lives on one I/O thread for its whole life; nothing here takes a lock.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/deadlines.hpp"
#include "net/server_context.hpp"
#include "net/tls_channel.hpp"
#include "session/connection.hpp"

namespace valtronics::net {

class WsSession : public std::enable_shared_from_this<WsSession>,
                  private session::Host,
                  private DeadlineOwner {
 public:
  using Options = session::Connection::Options;

  // `socket` has completed the upgrade and holds a slot from ConnectionRegistry::try_open.
  // `tls`: the connection's TLS channel on that socket (wss://), or null (ws://).
  WsSession(boost::asio::ip::tcp::socket socket, Worker& worker, ServerContext& ctx, Options opts,
            std::unique_ptr<TlsChannel> tls = nullptr);
  ~WsSession();

  // `early_bytes`: bytes read past the upgrade request (pipelined frames); `header_token`:
  // the Authorization: Bearer token of the handshake, if any.
  void start(std::string early_bytes, std::optional<std::string> header_token);
  // Server-initiated close (shutdown): sends a close frame with `code`, then closes.
  void close(std::uint16_t code, std::string reason);
  // The thread's flush (net/flusher.hpp) writes this session's queued frames.
  void flush();
  // The same write, batched with other sessions' (io_uring): gather_for_batch() appends the
  // queued frames' iovecs, or returns false when this session must be written with flush()
  // (TLS, a write already waiting for room, nothing queued); batch_sent() takes the result
  // (bytes, or would_block or an error, as util::send_now returns them) and writes what is
  // left. abort_batch(): the batch's outcome is unknown; the connection is closed.
  bool gather_for_batch(std::vector<iovec>& iov);
  void batch_sent(std::size_t n, boost::system::error_code ec);
  void abort_batch();
  int native_handle() { return socket_.native_handle(); }

 private:
  // session::Host
  void wants_write() override;
  void deadline_changed(session::SteadyTime when) override;
  void abort_transport() override;
  void telemetry_snapshot(const protocol::Filters& filters, const auth::Claims& claims,
                          std::function<void(model::Snapshot<model::TelemetryEvent>)> done) override;
  void status_snapshot(const protocol::Filters& filters, const auth::Claims& claims,
                       std::function<void(model::Snapshot<model::DeviceStatusEvent>)> done) override;
  void replay_alerts(std::int64_t since_id, const protocol::Filters& filters,
                     const auth::Claims& claims,
                     std::function<void(model::AlertReplay)> done) override;
  // An engine answer (any thread) -> `done` on this connection's thread, while it lives.
  template <class T>
  std::function<void(T)> on_this_thread(std::function<void(T)> done);

  // DeadlineOwner
  void on_deadline() override;

  void do_read();
  void on_readable(boost::system::error_code ec);
  void write_now();  // non-blocking writes until the queue is empty or the socket is full
  // Takes one write's result; false when writing stops (the socket is full: a wait for room is
  // set up; or it failed: the connection is closing).
  bool on_sent(std::size_t n, boost::system::error_code ec);
  void on_writable(boost::system::error_code ec);
  // One non-blocking read or gathered write, through TLS when the connection has it.
  std::size_t receive(char* data, std::size_t size, boost::system::error_code& ec);
  std::size_t send(const iovec* iov, std::size_t count, boost::system::error_code& ec);
  void after_drained();  // the queue is empty: finish a close
  void finish();         // the socket is gone: unregister everything once

  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsChannel> tls_;
  Worker& worker_;
  ServerContext& ctx_;
  session::Connection core_;
  bool writing_ = false;        // waiting for the socket to become writable
  bool flush_pending_ = false;  // waiting in the thread's flusher
  bool finished_ = false;
  bool reads_stopped_ = false;  // closed for abuse: no read is pending (core wants_reads())
};

}  // namespace valtronics::net
