// OpenSSL driven directly on a connection's non-blocking socket: the handshake, reads and
// gathered writes, each one step that never blocks ("would_block" when the socket has nothing
// or no room). Used by the HTTP session (through TlsStream) and, after the upgrade, by the
// WebSocket session, which keeps reading into its thread's shared buffer and writing its corked
// frame queue exactly as on a plain socket. asio's ssl::stream does its I/O through a memory
// BIO pair and its own buffers, which cannot be handed to that session; see docs/decisions.md.
//
// One thread at a time, like the socket.
#pragma once

#include <sys/uio.h>

#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace valtronics::net {

class TlsChannel {
 public:
  enum class Step { done, want_read, want_write, failed };

  // Server side of a TLS connection on `fd` (made non-blocking by the caller). The channel
  // holds a reference to `ctx` for its whole life.
  TlsChannel(SSL_CTX* ctx, int fd);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  // One handshake step. `failed` sets `ec` (an OpenSSL error: its message names the reason).
  Step handshake(boost::system::error_code& ec);
  // The peer sent plain HTTP instead of a ClientHello (after a failed handshake).
  bool peer_spoke_http() const { return spoke_http_; }

  // Plaintext bytes read (> 0); 0 with `ec` = eof (close_notify or TCP end), would_block or
  // another error.
  std::size_t read(char* data, std::size_t size, boost::system::error_code& ec);
  // Plaintext bytes written (maybe fewer than given); 0 with `ec` = would_block or an error.
  // After would_block, the next call must start with the same bytes (the frame queue keeps
  // them until on_written): OpenSSL holds the record it began and finishes it first.
  std::size_t write(const iovec* iov, std::size_t count, boost::system::error_code& ec);
  // Sends close_notify if the socket takes it now; never waits for the peer's.
  void shutdown();

  // The negotiated protocol ("TLSv1.3"), for logs and tests.
  std::string protocol() const;

 private:
  // Maps SSL_get_error of a failed call to would_block / eof / an error code.
  boost::system::error_code failure(int ret);

  SSL* ssl_;
  bool spoke_http_ = false;
};

}  // namespace valtronics::net
