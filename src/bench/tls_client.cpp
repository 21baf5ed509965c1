// The load generator's TLS steps; see tls_client.hpp.
#include "bench/tls_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/error.hpp>
#include <cerrno>
#include <stdexcept>

namespace valtronics::bench {

namespace asio = boost::asio;
using boost::system::error_code;

void SslFree::operator()(SSL* ssl) const { SSL_free(ssl); }

std::shared_ptr<SSL_CTX> make_client_tls_context() {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) throw std::runtime_error("cannot create a TLS client context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

SslPtr new_client_tls(SSL_CTX* ctx, int fd) {
  SslPtr ssl(SSL_new(ctx));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) throw std::runtime_error("cannot create TLS");
  SSL_set_connect_state(ssl.get());
  return ssl;
}

namespace {
error_code failure(SSL* ssl, int ret) {
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN: return asio::error::eof;
    case SSL_ERROR_SYSCALL: {
      const int saved = errno;
      ERR_clear_error();
      return saved == 0 ? error_code(asio::error::eof)
                        : error_code(saved, boost::system::system_category());
    }
    default:
      ERR_clear_error();
      return asio::error::connection_aborted;
  }
}
}  // namespace

TlsStep tls_handshake(SSL* ssl, std::string& error) {
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl);
  if (ret == 1) return TlsStep::done;
  const int err = SSL_get_error(ssl, ret);
  if (err == SSL_ERROR_WANT_READ) return TlsStep::want_read;
  if (err == SSL_ERROR_WANT_WRITE) return TlsStep::want_write;
  char buf[256] = "TLS handshake failed";
  if (unsigned long e = ERR_peek_last_error()) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  error = buf;
  return TlsStep::failed;
}

std::size_t tls_receive(SSL* ssl, char* data, std::size_t size, error_code& ec) {
  ERR_clear_error();
  ec = {};
  const int ret = SSL_read(ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
  if (ret > 0) return static_cast<std::size_t>(ret);
  ec = failure(ssl, ret);
  return 0;
}

std::size_t tls_send(SSL* ssl, const char* data, std::size_t size, error_code& ec) {
  ERR_clear_error();
  ec = {};
  if (size == 0) return 0;
  const int ret = SSL_write(ssl, data, static_cast<int>(std::min<std::size_t>(size, 1 << 30)));
  if (ret > 0) return static_cast<std::size_t>(ret);
  ec = failure(ssl, ret);
  return 0;
}

}  // namespace valtronics::bench
