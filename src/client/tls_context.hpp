// The OpenSSL context shared by the WebSocket transport and the HTTP client: TLS 1.2+, the
// system's CAs or a given CA file, peer verification unless turned off (TlsOptions).
#pragma once

#include <memory>
#include <string>

#include "client/transport.hpp"

namespace boost::asio::ssl {
class context;
}

namespace valtronics::client {

// Throws std::runtime_error naming the CA file when it cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsOptions& tls);

// Prepares an SSL handle for `host`: SNI (unless `host` is an IP address) and, when verifying,
// the check that the certificate names `host`. Returns false when SNI cannot be set.
bool prepare_tls_handle(void* ssl_handle, const std::string& host, bool verify_peer);

}  // namespace valtronics::client
