// Building the server's SSL_CTX: protocol versions, ciphers, certificate, key, client CAs.
#include "net/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace valtronics::net {

// Forward secrecy and authenticated encryption only: ECDHE key exchange, AES-GCM or
// ChaCha20-Poly1305 (Mozilla's "intermediate" list). TLS 1.3 suites are all of that kind.
const char* const kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
const char* const kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

namespace {

// The newest OpenSSL error of this thread as text (the queue is cleared).
std::string openssl_error() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

// fopen-level check first: "cannot read" with the system's reason is clearer than OpenSSL's
// "no such file" buried in a PEM error.
void require_readable(const std::string& path, const char* what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw TlsError(std::string("cannot read ") + what + " " + path + ": " +
                         std::strerror(errno));
  std::fclose(f);
}

}  // namespace

SslCtxPtr make_server_tls_context(const config::TlsConfig& tls) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) throw TlsError("cannot create a TLS context: " + openssl_error());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1)
    throw TlsError("cannot set the cipher policy: " + openssl_error());
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Writes of a frame queue may be cut anywhere and resumed from a new buffer address (the
  // queue gathers into a per-thread scratch buffer); idle connections give their 16 KB+ read and
  // write buffers back (docs/benchmarks.md, "TLS").
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  // TLS 1.2 resumption by stateless tickets only: no per-session state kept by the server.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);

  require_readable(tls.cert, "TLS certificate");
  require_readable(tls.key, "TLS key");
  if (SSL_CTX_use_certificate_chain_file(c, tls.cert.c_str()) != 1)
    throw TlsError("TLS certificate " + tls.cert + ": not a PEM certificate (" + openssl_error() +
                   ")");
  if (SSL_CTX_use_PrivateKey_file(c, tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the pair while loading the key: a mismatch fails here, not below.
    const unsigned long e = ERR_peek_last_error();
    if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
        ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH) {
      ERR_clear_error();
      throw TlsError("TLS key " + tls.key + " does not match the certificate " + tls.cert);
    }
    throw TlsError("TLS key " + tls.key + ": not a PEM private key (" + openssl_error() + ")");
  }
  if (SSL_CTX_check_private_key(c) != 1)
    throw TlsError("TLS key " + tls.key + " does not match the certificate " + tls.cert);

  if (!tls.ca_file.empty()) {
    require_readable(tls.ca_file, "TLS client CA file");
    if (SSL_CTX_load_verify_locations(c, tls.ca_file.c_str(), nullptr) != 1)
      throw TlsError("TLS client CA file " + tls.ca_file + ": no PEM certificate (" +
                     openssl_error() + ")");
    // The CA names sent in the CertificateRequest help clients pick their certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca_file.c_str()))
      SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  ERR_clear_error();
  return ctx;
}

TlsContextStore::TlsContextStore(config::TlsConfig tls)
    : tls_(std::move(tls)), current_(make_server_tls_context(tls_)) {}

SslCtxPtr TlsContextStore::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

bool TlsContextStore::reload() {
  SslCtxPtr fresh;
  try {
    fresh = make_server_tls_context(tls_);
  } catch (const TlsError& e) {
    spdlog::error("TLS reload failed, keeping the previous certificate: {}", e.what());
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    current_ = std::move(fresh);
  }
  spdlog::info("TLS certificate reloaded from {}", tls_.cert);
  return true;
}

}  // namespace valtronics::net
