// The HTTP API's own request and response: plain values, no Beast. net/http_session converts
// from and to the wire; everything in api/ sees only these.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace valtronics::api {

// The methods the API routes on; any other is `other` (answered 405 on a known path).
enum class Method { get, head, post, put, patch, delete_, other };
std::string_view to_string(Method m);  // "GET", ..., "OTHER"

struct Request {
  Method method = Method::get;
  std::string path;   // the target before '?', not decoded
  std::string query;  // the target after the first '?', not decoded ("" when none)
  std::optional<std::string> authorization;  // the Authorization header, when sent
  // The client's address (net/client_address: the peer, or what a trusted proxy forwarded):
  // bad bearer tokens are counted against it (bans).
  std::string client_address;
  std::string body;
  unsigned version = 11;  // 10 or 11: what the response is written in
  bool keep_alive = true;
  // Read by the listener of metrics.listen, which serves GET /metrics and nothing else.
  bool metrics_listener = false;
};

// A body produced piece by piece (GET /api/v1/telemetry/export): the transport asks for the next
// piece only once the previous one is written, so a large body never sits in memory whole.
// Dropping the stream (the client went away) stops the producer.
class BodyStream {
 public:
  // A piece of the body; "" ends it. std::nullopt: the producer failed mid-body (already logged):
  // the transport ends the connection without the final chunk, so the client sees the body cut.
  using Deliver = std::function<void(std::optional<std::string>)>;
  virtual ~BodyStream() = default;
  // Called again only after `deliver` ran; `deliver` may run at once or on another thread.
  virtual void next(Deliver deliver) = 0;
};

struct Response {
  int status = 200;
  boost::json::value body;  // sent as application/json, unless content_type is set
  // Headers beyond Server, Content-Type and Content-Length (e.g. Allow on a 405).
  std::vector<std::pair<std::string, std::string>> headers{};
  // A body that is not JSON (GET /metrics): `text` sent as is, with this Content-Type.
  std::string content_type{};
  std::string text{};
  // When set, the body comes from this (chunked on HTTP/1.1), with `content_type`; `text` and
  // `body` are ignored.
  std::shared_ptr<BodyStream> stream{};

  // The value of header `name` (compared without case), or "" when absent.
  std::string_view header(std::string_view name) const;
};

// Receives the response to one request: called exactly once, at once or later from another
// thread (the engine's); the transport takes it back to the connection's thread.
using Respond = std::function<void(Response)>;

}  // namespace valtronics::api
