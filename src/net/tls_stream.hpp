// A Beast-compatible stream (AsyncReadStream + AsyncWriteStream) over a TlsChannel, with the
// expiry of beast::tcp_stream (expires_after / expires_never: a timed-out operation closes the
// socket and fails with beast::error::timeout). The HTTP session is a template over its stream
// and runs on this for https:// exactly as on beast::tcp_stream for http://; after a WebSocket
// upgrade the socket and the channel are released to the WebSocket session.
//
// Only http_session.cpp includes this (it is where Beast lives).
#pragma once

#include <array>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "net/tls_channel.hpp"

namespace valtronics::net {

class TlsStream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;

  // `socket` is made non-blocking here (OpenSSL reads and writes its fd directly).
  TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx)
      : socket_(std::move(socket)), timer_(socket_.get_executor()) {
    socket_.non_blocking(true);
    channel_ = std::make_unique<TlsChannel>(ctx, socket_.native_handle());
  }

  executor_type get_executor() { return socket_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  TlsChannel& channel() { return *channel_; }

  void expires_after(std::chrono::steady_clock::duration d) {
    timed_out_ = false;
    timer_.expires_after(d);
    timer_.async_wait([this, gen = ++generation_](boost::system::error_code ec) {
      if (ec || gen != generation_) return;
      timed_out_ = true;
      boost::system::error_code ignored;
      socket_.close(ignored);  // the pending wait fails; the operation reports timeout
    });
  }
  void expires_never() {
    ++generation_;
    timer_.cancel();
  }

  // The socket and the channel, for the WebSocket session (the stream is left empty).
  boost::asio::ip::tcp::socket release_socket() {
    expires_never();
    return std::move(socket_);
  }
  std::unique_ptr<TlsChannel> release_channel() { return std::move(channel_); }

  // The server's handshake; fails with the OpenSSL error (or timeout).
  template <class Handler>
  auto async_handshake(Handler&& handler) {
    return boost::asio::async_compose<Handler, void(boost::system::error_code)>(
        HandshakeOp{this}, handler, socket_);
  }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::mutable_buffer b = *it;  // Beast's iterators have no operator->
      if (b.size() > 0) {
        first = b;
        break;
      }
    }
    return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        IoOp<true>{this, first.data(), first.size()}, handler, socket_);
  }

  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    // Up to 16 buffers gathered in one call, as the WebSocket frame queue is.
    IoOp<false> op{this, nullptr, 0};
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && op.count < op.iov.size(); ++it) {
      const boost::asio::const_buffer b = *it;  // Beast's iterators have no operator->
      if (b.size() == 0) continue;
      op.iov[op.count++] = iovec{const_cast<void*>(b.data()), b.size()};
    }
    return boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
        std::move(op), handler, socket_);
  }

 private:
  // A failed wait: a timeout if the timer closed the socket, else the wait's own error.
  boost::system::error_code wait_error(boost::system::error_code ec) const {
    return timed_out_ ? boost::system::error_code(boost::beast::error::timeout) : ec;
  }

  // Try the step now; on would_block wait for the socket and try again. A result found on the
  // first try is delivered through post: a completion never runs inside the initiating call.
  template <bool Read>
  struct IoOp {
    TlsStream* s;
    void* data;
    std::size_t size;
    std::array<iovec, 16> iov{};
    std::size_t count = 0;
    enum { start, waiting, posted } state = start;
    boost::system::error_code result{};
    std::size_t n = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (state == posted) return self.complete(result, n);
      if (state == waiting && ec) return self.complete(s->wait_error(ec), 0);
      if (!s->channel_ || !s->socket_.is_open())
        return finish(self, boost::asio::error::bad_descriptor, 0);
      if (Read && size == 0) return finish(self, {}, 0);
      if (!Read && count == 0) return finish(self, {}, 0);
      boost::system::error_code io;
      const std::size_t got = Read ? s->channel_->read(static_cast<char*>(data), size, io)
                                   : s->channel_->write(iov.data(), count, io);
      if (io == boost::asio::error::would_block) {
        state = waiting;
        s->socket_.async_wait(Read ? boost::asio::ip::tcp::socket::wait_read
                                   : boost::asio::ip::tcp::socket::wait_write,
                              std::move(self));
        return;
      }
      finish(self, io, got);
    }
    template <class Self>
    void finish(Self& self, boost::system::error_code ec, std::size_t got) {
      if (state == waiting) return self.complete(ec, got);
      state = posted;
      result = ec;
      n = got;
      boost::asio::post(s->socket_.get_executor(), std::move(self));
    }
  };

  struct HandshakeOp {
    TlsStream* s;
    enum { start, waiting, posted } state = start;
    boost::system::error_code result{};

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (state == posted) return self.complete(result);
      if (state == waiting && ec) return self.complete(s->wait_error(ec));
      boost::system::error_code hs;
      const TlsChannel::Step step =
          s->channel_ && s->socket_.is_open() ? s->channel_->handshake(hs)
                                              : (hs = boost::asio::error::bad_descriptor,
                                                 TlsChannel::Step::failed);
      if (step == TlsChannel::Step::want_read || step == TlsChannel::Step::want_write) {
        state = waiting;
        s->socket_.async_wait(step == TlsChannel::Step::want_read
                                  ? boost::asio::ip::tcp::socket::wait_read
                                  : boost::asio::ip::tcp::socket::wait_write,
                              std::move(self));
        return;
      }
      if (state == waiting) return self.complete(hs);
      state = posted;
      result = hs;
      boost::asio::post(s->socket_.get_executor(), std::move(self));
    }
  };

  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<TlsChannel> channel_;
  boost::asio::steady_timer timer_;
  std::uint64_t generation_ = 0;
  bool timed_out_ = false;
};

}  // namespace valtronics::net
