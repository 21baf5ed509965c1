// TLS set-up shared by transport.cpp and http_client.cpp; see tls_context.hpp.
#include "client/tls_context.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <stdexcept>

namespace valtronics::client {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_tls_context(const TlsOptions& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (!tls.verify_peer) {
    ctx->set_verify_mode(ssl::verify_none);
    return ctx;
  }
  boost::system::error_code ec;
  if (tls.ca_file.empty()) ctx->set_default_verify_paths(ec);
  else ctx->load_verify_file(tls.ca_file, ec);
  if (ec)
    throw std::runtime_error("cannot load CA " +
                             (tls.ca_file.empty() ? std::string("store") : "file " + tls.ca_file) +
                             ": " + ec.message());
  ctx->set_verify_mode(ssl::verify_peer);
  return ctx;
}

bool prepare_tls_handle(void* ssl_handle, const std::string& host, bool verify_peer) {
  auto* ssl = static_cast<SSL*>(ssl_handle);
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(host, ec);
  bool is_ip = !ec;
  // SNI must not carry an IP address (RFC 6066), and servers pick their certificate by it.
  if (!is_ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return false;
  if (verify_peer) {
    // OpenSSL checks the name during the handshake: DNS names against the SAN/CN, addresses
    // against IP SANs.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (ok != 1) return false;
  }
  return true;
}

}  // namespace valtronics::client
