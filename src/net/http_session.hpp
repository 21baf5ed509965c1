// One HTTP connection: reads requests (keep-alive), answers plain routes, and performs the
// WebSocket upgrade with its admission checks (path, version, Origin, per-address rate, total
// connections) before handing the socket to a WsSession.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "net/server_context.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace valtronics::net {

// Starts serving `socket` (already bound to `worker`'s io_context). Keeps itself alive.
// `metrics_only`: a connection to metrics.listen, which answers GET /metrics and 404 otherwise.
void start_http_session(boost::asio::ip::tcp::socket socket, Worker& worker, ServerContext& ctx,
                        bool metrics_only = false);
// The same over TLS: the handshake first (bounded by limits.tls_handshake_timeout), then HTTP
// and the upgrade as above; the connection keeps a reference to `tls`.
void start_https_session(boost::asio::ip::tcp::socket socket, SSL_CTX* tls, Worker& worker,
                         ServerContext& ctx);

}  // namespace valtronics::net
