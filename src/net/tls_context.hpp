// The server's TLS policy and its current OpenSSL context. TLS 1.2 and 1.3 only; for TLS 1.2
// only ECDHE key exchange with AEAD ciphers (AES-GCM, ChaCha20-Poly1305); TLS 1.3 suites are all
// AEAD. Client certificates are required when a CA file is configured (mTLS).
//
// The certificate and key can be replaced while the server runs (SIGHUP): new connections get
// the new context, connections already open keep the one they were made with (each SSL holds a
// reference to its SSL_CTX).
#pragma once

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "config/config.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace valtronics::net {

// A TLS set-up problem: what() names the file and what is wrong with it.
class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

// Builds a server context from `tls` (cert, key, optional CA file). Throws TlsError naming the
// file when one cannot be read or parsed, or when the key does not match the certificate.
SslCtxPtr make_server_tls_context(const config::TlsConfig& tls);

// The cipher policy, exposed for tests and docs.
extern const char* const kTls12Ciphers;
extern const char* const kTls13Suites;

class TlsContextStore {
 public:
  // Builds the first context (throws TlsError, as make_server_tls_context).
  explicit TlsContextStore(config::TlsConfig tls);

  // The context new connections use. Thread-safe.
  SslCtxPtr current() const;
  // Reads the files again. On success new connections use the new context and true is returned;
  // on failure the error is logged and the old context kept. Thread-safe.
  bool reload();

 private:
  const config::TlsConfig tls_;
  mutable std::mutex mutex_;
  SslCtxPtr current_;
};

}  // namespace valtronics::net
