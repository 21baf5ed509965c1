// Plain HTTP endpoints beside the WebSocket ones: health, telemetry ingest, WebSocket stats and
// the REST API of devices, alert rules and alerts. A route is a function of the request and the
// server context; it never blocks: it answers through `respond`, at once or later from another
// thread (the engine's), and the session posts the response back to its own thread.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>

#include "net/server_context.hpp"

namespace valtronics::net {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Receives the response of one request; called exactly once, possibly later and from another
// thread (the caller posts it back to the connection's thread).
using Respond = std::function<void(HttpResponse)>;

// Routes: GET /health, POST /api/v1/telemetry, POST /api/v1/telemetry/batch,
// GET /api/v1/ws/stats, and the REST API under /api/v1/devices, /api/v1/alert-rules and
// /api/v1/alerts (net/rest_common.hpp). Anything else: 404 (or 405 for a known path with another
// method), always with a JSON body in the platform's envelope. `req` is only read before
// handle_http returns; `respond` is called exactly once.
void handle_http(const HttpRequest& req, ServerContext& ctx, Respond respond);

// A JSON error response in the platform's envelope:
// {"success":false,"error":{"code":code,"message":message,"details":{}}}
HttpResponse error_response(unsigned version, bool keep_alive, int status, std::string_view code,
                            std::string_view message);

}  // namespace valtronics::net
