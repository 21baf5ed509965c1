// TlsChannel: SSL_accept / SSL_read / SSL_write on the socket's fd (OpenSSL's socket BIO).
#include "net/tls_channel.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <cstring>
#include <stdexcept>

namespace valtronics::net {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// A write gathers the queued frames into this buffer first (one thread's sessions run one at a
// time): SSL_write takes one buffer, and small frames then share records. Four full records.
constexpr std::size_t kWriteScratch = 4 * 16384;
thread_local std::array<char, kWriteScratch> write_scratch;
}  // namespace

TlsChannel::TlsChannel(SSL_CTX* ctx, int fd) : ssl_(SSL_new(ctx)) {
  if (!ssl_ || SSL_set_fd(ssl_, fd) != 1) {
    if (ssl_) SSL_free(ssl_);
    ERR_clear_error();
    throw std::runtime_error("cannot create a TLS connection");
  }
  SSL_set_accept_state(ssl_);
}

TlsChannel::~TlsChannel() { SSL_free(ssl_); }

error_code TlsChannel::failure(int ret) {
  const int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    case SSL_ERROR_SYSCALL: {
      const int saved = errno;
      ERR_clear_error();
      if (saved == 0) return asio::error::eof;
      return error_code(saved, boost::system::system_category());
    }
    default: {
      unsigned long last = 0;
      while (unsigned long e = ERR_get_error()) last = e;
      if (ERR_GET_REASON(last) == SSL_R_HTTP_REQUEST) spoke_http_ = true;
      if (last == 0) return asio::error::connection_aborted;
      return error_code(static_cast<int>(last), asio::error::get_ssl_category());
    }
  }
}

TlsChannel::Step TlsChannel::handshake(error_code& ec) {
  ERR_clear_error();
  ec = {};
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) return Step::done;
  const int err = SSL_get_error(ssl_, ret);
  if (err == SSL_ERROR_WANT_READ) return Step::want_read;
  if (err == SSL_ERROR_WANT_WRITE) return Step::want_write;
  ec = failure(ret);
  if (ec == asio::error::would_block) ec = asio::error::connection_aborted;  // not reached
  return Step::failed;
}

std::size_t TlsChannel::read(char* data, std::size_t size, error_code& ec) {
  ERR_clear_error();
  ec = {};
  const int want = static_cast<int>(std::min<std::size_t>(size, 1 << 30));
  const int ret = SSL_read(ssl_, data, want);
  if (ret > 0) return static_cast<std::size_t>(ret);
  ec = failure(ret);
  return 0;
}

std::size_t TlsChannel::write(const iovec* iov, std::size_t count, error_code& ec) {
  ec = {};
  std::size_t len = 0;
  for (std::size_t i = 0; i < count && len < write_scratch.size(); ++i) {
    const std::size_t n = std::min(iov[i].iov_len, write_scratch.size() - len);
    std::memcpy(write_scratch.data() + len, iov[i].iov_base, n);
    len += n;
  }
  if (len == 0) return 0;
  ERR_clear_error();
  const int ret = SSL_write(ssl_, write_scratch.data(), static_cast<int>(len));
  if (ret > 0) return static_cast<std::size_t>(ret);
  ec = failure(ret);
  return 0;
}

void TlsChannel::shutdown() {
  ERR_clear_error();
  if (SSL_is_init_finished(ssl_)) (void)SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsChannel::protocol() const { return SSL_get_version(ssl_); }

}  // namespace valtronics::net
