// The client's WebSocket transport: TCP or TLS (wss), the HTTP upgrade, one message in, one
// message out, a close frame. It hides Boost.Beast behind a small interface so that only
// transport.cpp compiles Beast's WebSocket headers (a minute of compile time on two cores), and
// the client's logic can be read without them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client/url.hpp"

namespace boost::asio {
class io_context;
}

namespace valtronics::client {

// Certificate checks for wss:// and https://.
struct TlsOptions {
  // Verify the server's chain against the trusted CAs and its name against the URL's host.
  // On by default: turning it off lets anyone on the path read the token.
  bool verify_peer = true;
  // PEM file of trusted CAs (e.g. a self-signed server's certificate); empty = the system's
  // default store (/etc/ssl/certs).
  std::string ca_file;
};

// Why a connection ended (or never opened).
struct CloseInfo {
  std::string error;   // readable: "connect 127.0.0.1:8000: Connection refused", "closed by server: 1001 ..."
  int code = 0;        // the server's close code when it sent a close frame, else 0
  std::string reason;  // the server's close reason
  bool opened = false; // the WebSocket handshake had completed
};

// One WebSocket connection. All calls and callbacks happen on the io_context's thread.
class WsConnection {
 public:
  using OpenHandler = std::function<void()>;
  using MessageHandler = std::function<void(std::string text)>;
  using CloseHandler = std::function<void(const CloseInfo&)>;

  virtual ~WsConnection() = default;

  // Resolves, connects (TLS for wss), upgrades, then reads until the connection ends. Callbacks:
  // on_open once the upgrade is done, on_message per message, then on_close exactly once
  // (also when connecting fails). None after abort().
  virtual void start(OpenHandler on_open, MessageHandler on_message, CloseHandler on_close) = 0;

  // Queues a message (a text frame, or a binary one with `msgpack`); messages are written in
  // order, one write in flight.
  virtual void send(std::string data) = 0;

  // Sends a close frame with `code` once queued messages are written; on_close follows when the
  // server answers (or the close handshake times out). Before the upgrade it is abort().
  virtual void close(std::uint16_t code) = 0;

  // Drops the connection at once; no callback follows.
  virtual void abort() = 0;
};

// `url` must be ws:// or wss://. `timeout` bounds resolving, connecting, the TLS handshake, the
// upgrade and the close handshake (each). `compression`: offer permessage-deflate (Beast's).
// `msgpack`: ask for the valtronics.msgpack subprotocol (docs/protocol.md "MessagePack") and
// write binary frames; a server that does not name it in its answer fails the upgrade.
std::shared_ptr<WsConnection> make_ws_connection(boost::asio::io_context& ioc, const Url& url,
                                                 const TlsOptions& tls,
                                                 std::chrono::milliseconds timeout,
                                                 bool compression = true, bool msgpack = false);

}  // namespace valtronics::client
