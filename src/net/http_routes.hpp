// Plain HTTP endpoints beside the WebSocket ones: health, telemetry ingest and WebSocket stats.
// A route is a function of the request and the server context; it never blocks.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/server_context.hpp"

namespace valtronics::net {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Routes: GET /health, POST /api/v1/telemetry, POST /api/v1/telemetry/batch,
// GET /api/v1/ws/stats. Anything else: 404 (or 405 for a known path with another method), always
// with a JSON body in the platform's envelope.
HttpResponse handle_http(const HttpRequest& req, ServerContext& ctx);

// A JSON error response in the platform's envelope:
// {"success":false,"error":{"code":code,"message":message,"details":{}}}
HttpResponse error_response(unsigned version, bool keep_alive, int status, std::string_view code,
                            std::string_view message);

}  // namespace valtronics::net
