// TLS for the load generator's WebSocket clients (`--ws-url wss://...`): OpenSSL on each
// connection's non-blocking socket, in steps that never block, like the plain sends and
// receives of util/socket_io.hpp. The load generator measures cost, not trust: the server's
// certificate is not verified.
#pragma once

#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace valtronics::bench {

struct SslFree {
  void operator()(SSL* ssl) const;
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

// A client context: TLS 1.2+, no verification, buffers released while idle.
std::shared_ptr<SSL_CTX> make_client_tls_context();
// A client connection on `fd` (already connected and non-blocking).
SslPtr new_client_tls(SSL_CTX* ctx, int fd);

enum class TlsStep { done, want_read, want_write, failed };
// One handshake step; `failed` fills `error`.
TlsStep tls_handshake(SSL* ssl, std::string& error);
// As util::receive_now / send_now: bytes moved, or 0 with `ec` = would_block, eof or an error.
// After would_block, tls_send must be called again with the same bytes first.
std::size_t tls_receive(SSL* ssl, char* data, std::size_t size, boost::system::error_code& ec);
std::size_t tls_send(SSL* ssl, const char* data, std::size_t size, boost::system::error_code& ec);

}  // namespace valtronics::bench
