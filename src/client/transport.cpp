// The WebSocket transport on Boost.Beast (the only translation unit that includes Beast's
// WebSocket headers). One class template serves ws:// (tcp_stream) and wss:// (ssl_stream over
// tcp_stream). Every step is bounded by the connect timeout; after the upgrade no timer runs:
// liveness is the client's keepalive ping, which also covers a silent network.
#include "client/transport.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <optional>
#include <type_traits>

#include "client/tls_context.hpp"

namespace valtronics::client {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;

constexpr std::string_view kMsgpackSubprotocol = "valtronics.msgpack";
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

template <bool Tls>
class WsImpl final : public WsConnection, public std::enable_shared_from_this<WsImpl<Tls>> {
  using Next = std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;
  using Ws = websocket::stream<Next>;

 public:
  WsImpl(asio::io_context& ioc, Url url, std::shared_ptr<asio::ssl::context> ctx,
         TlsOptions tls, std::chrono::milliseconds timeout, bool compression, bool msgpack)
      : url_(std::move(url)), ctx_(std::move(ctx)), tls_(std::move(tls)), resolver_(ioc),
        timeout_(timeout), compression_(compression), msgpack_(msgpack) {
    if constexpr (Tls) ws_.emplace(ioc, *ctx_);
    else ws_.emplace(ioc);
  }

  void start(OpenHandler on_open, MessageHandler on_message, CloseHandler on_close) override {
    on_open_ = std::move(on_open);
    on_message_ = std::move(on_message);
    on_close_ = std::move(on_close);
    stage_ = "resolve " + url_.host;
    resolver_.async_resolve(url_.host, url_.port,
                            [self = this->shared_from_this()](error_code ec, auto results) {
                              self->on_resolve(ec, std::move(results));
                            });
  }

  void send(std::string text) override {
    if (done_) return;
    queue_.push_back(std::move(text));
    if (open_ && !writing_) do_write();
  }

  void close(std::uint16_t code) override {
    if (done_) return;
    if (!open_) {
      abort();
      return;
    }
    close_code_ = code;
    if (!writing_) do_close();
  }

  void abort() override {
    if (done_) return;
    // The handlers stay: abort() is often called from inside one of them (a refused token seen
    // in on_message), and destroying a std::function while it runs is undefined. Every
    // completion checks done_ first, so none is called again.
    done_ = true;
    resolver_.cancel();
    error_code ec;
    beast::get_lowest_layer(*ws_).socket().close(ec);
  }

 private:
  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    if (done_) return;
    if (ec) return fail(ec);
    stage_ = "connect " + url_.host_header();
    beast::get_lowest_layer(*ws_).expires_after(timeout_);
    beast::get_lowest_layer(*ws_).async_connect(
        results, [self = this->shared_from_this()](error_code ec, const tcp::endpoint&) {
          self->on_connect(ec);
        });
  }

  void on_connect(error_code ec) {
    if (done_) return;
    if (ec) return fail(ec);
    if constexpr (Tls) {
      stage_ = "TLS handshake with " + url_.host_header();
      if (!prepare_tls_handle(ws_->next_layer().native_handle(), url_.host, tls_.verify_peer))
        return fail(asio::error::invalid_argument);
      beast::get_lowest_layer(*ws_).expires_after(timeout_);
      ws_->next_layer().async_handshake(
          asio::ssl::stream_base::client,
          [self = this->shared_from_this()](error_code ec) { self->upgrade(ec); });
    } else {
      upgrade(ec);
    }
  }

  void upgrade(error_code ec) {
    if (done_) return;
    if (ec) return fail(ec);
    stage_ = "WebSocket upgrade at " + url_.str();
    // The upgrade has its own timer from here (handshake_timeout); the TCP timer would also
    // cut an idle but healthy connection later.
    beast::get_lowest_layer(*ws_).expires_never();
    websocket::stream_base::timeout opt{timeout_, websocket::stream_base::none(), false};
    ws_->set_option(opt);
    ws_->set_option(websocket::stream_base::decorator([msgpack = msgpack_](
                                                          websocket::request_type& req) {
      req.set(http::field::user_agent, "valtronics-cpp-client");
      if (msgpack) req.set(http::field::sec_websocket_protocol, kMsgpackSubprotocol);
    }));
    if (compression_) {
      // Offered; used only if the server agrees (the Valtronics server does, with no context
      // takeover either way: docs/protocol.md "Compression").
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_->set_option(pmd);
    }
    ws_->async_handshake(response_, url_.host_header(), url_.target,
                         [self = this->shared_from_this()](error_code ec) { self->on_upgrade(ec); });
  }

  void on_upgrade(error_code ec) {
    if (done_) return;
    if (ec) {
      // A refusal (404, 429, 503...) has a JSON body saying why: pass it on.
      if (ec == websocket::error::upgrade_declined && response_.result_int() != 0) {
        declined_ = "HTTP " + std::to_string(response_.result_int()) + " " +
                    std::string(response_.reason());
        if (!response_.body().empty()) declined_ += ": " + response_.body();
      }
      return fail(ec);
    }
    if (msgpack_ && response_[http::field::sec_websocket_protocol] != kMsgpackSubprotocol) {
      // A server without the extension answered without it: its messages would be JSON.
      declined_ = "the server did not agree to the valtronics.msgpack subprotocol";
      return fail(websocket::error::upgrade_declined);
    }
    open_ = true;
    stage_.clear();
    if (on_open_) on_open_();
    if (done_) return;
    if (!queue_.empty() && !writing_) do_write();
    do_read();
  }

  void do_read() {
    ws_->async_read(buffer_, [self = this->shared_from_this()](error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(error_code ec) {
    if (done_) return;
    if (ec) return fail(ec);
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (on_message_) on_message_(std::move(text));
    if (!done_) do_read();
  }

  void do_write() {
    writing_ = true;
    ws_->binary(msgpack_);
    ws_->async_write(asio::buffer(queue_.front()),
                     [self = this->shared_from_this()](error_code ec, std::size_t) {
                       self->on_write(ec);
                     });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (done_) return;
    if (ec) return;  // the read side reports the failure
    queue_.pop_front();
    if (!queue_.empty()) do_write();
    else if (close_code_) do_close();
  }

  void do_close() {
    auto code = *close_code_;
    ws_->async_close(websocket::close_reason(code),
                     [self = this->shared_from_this()](error_code ec) {
                       // A close that fails or completes without the read noticing: report it.
                       if (!self->done_ && ec) self->fail(ec);
                     });
  }

  void fail(error_code ec) {
    if (done_) return;
    done_ = true;
    CloseInfo info;
    info.opened = open_;
    if (ec == websocket::error::closed) {
      info.code = ws_->reason().code;
      info.reason = std::string(ws_->reason().reason.c_str());
      info.error = "closed by server: " + std::to_string(info.code);
      if (!info.reason.empty()) info.error += " " + info.reason;
    } else if (!declined_.empty()) {
      info.error = stage_ + ": " + declined_;
    } else {
      std::string what = ec == beast::error::timeout ? "timed out" : ec.message();
      info.error = stage_.empty() ? what : stage_ + ": " + what;
    }
    auto cb = std::move(on_close_);
    on_close_ = nullptr;
    error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    if (cb) cb(info);
  }

  Url url_;
  std::shared_ptr<asio::ssl::context> ctx_;  // outlives the stream that refers to it
  TlsOptions tls_;
  tcp::resolver resolver_;
  std::optional<Ws> ws_;
  std::chrono::milliseconds timeout_;
  bool compression_;
  bool msgpack_;
  websocket::response_type response_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  std::optional<std::uint16_t> close_code_;
  OpenHandler on_open_;
  MessageHandler on_message_;
  CloseHandler on_close_;
  std::string stage_, declined_;
  bool open_ = false, writing_ = false, done_ = false;
};

}  // namespace

std::shared_ptr<WsConnection> make_ws_connection(boost::asio::io_context& ioc, const Url& url,
                                                 const TlsOptions& tls,
                                                 std::chrono::milliseconds timeout,
                                                 bool compression, bool msgpack) {
  if (url.tls())
    return std::make_shared<WsImpl<true>>(ioc, url, make_tls_context(tls), tls, timeout,
                                          compression, msgpack);
  return std::make_shared<WsImpl<false>>(ioc, url, nullptr, tls, timeout, compression, msgpack);
}

}  // namespace valtronics::client
