// One HTTP connection: reads requests (keep-alive), answers plain routes, and performs the
// WebSocket upgrade with its admission checks (path, version, Origin, per-address rate, total
// connections) before handing the socket to a WsSession.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "net/server_context.hpp"

namespace valtronics::net {

// Starts serving `socket` (already bound to `worker`'s io_context). Keeps itself alive.
void start_http_session(boost::asio::ip::tcp::socket socket, Worker& worker, ServerContext& ctx);

}  // namespace valtronics::net
