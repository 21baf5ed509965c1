// Checks of an HTTP request's head made before its body is read: framing that two parsers could
// read differently (request smuggling, RFC 9112 section 6.3), the WebSocket key of an upgrade
// (RFC 6455 section 4.2.1), and what the client expects before it sends a body. Pure functions
// over the header fields, so that each rule is unit tested without a socket.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace valtronics::net {

// Why the request's body framing is refused (answer 400 and close), or nullopt when it is
// unambiguous. Refused: a Transfer-Encoding other than exactly `chunked` (any other coding, a
// list, or the field repeated: the server decodes no other coding, and a bodyless reading of
// such a request would run its body as the next request); Content-Length together with
// Transfer-Encoding; Content-Length repeated (even with equal values) or not a non-negative
// decimal integer.
std::optional<std::string> framing_problem(const boost::beast::http::fields& head);

// Sec-WebSocket-Key must be the base64 encoding of 16 bytes: 22 base64 characters then "==".
bool valid_websocket_key(std::string_view key);

// The request's Expect field: absent, `100-continue` (answer "100 Continue" before reading the
// body), or anything else (417 Expectation Failed, RFC 9110 section 10.1.1).
enum class Expectation { none, continue_100, unsupported };
Expectation expectation(const boost::beast::http::fields& head);

}  // namespace valtronics::net
