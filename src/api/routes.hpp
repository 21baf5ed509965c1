// The route table: path pattern and method → handler. A pattern is a path whose segments are
// literal or "{name}" (any one segment, passed to the handler as Call::params in order). A
// request path matches with one trailing slash or without it; empty segments in the middle are
// kept ("/api/v1//devices" matches nothing), and segments are not decoded.
//
// Unknown path: 404 NOT_FOUND "no route for <path>". Known path, other method: 405
// METHOD_NOT_ALLOWED "use <methods> on <path>", with the Allow header and details.allow listing
// the path's methods in the order they were added.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include "api/call.hpp"
#include "api/context.hpp"
#include "api/request.hpp"

namespace valtronics::api {

// Whether a route's requests may be dispatched while earlier requests of their connection are
// still being answered (HTTP/1.1 pipelining, net/http_session): only when the route applies its
// effects in the order the engine's queue receives them (ingest), so that dispatching a request
// early cannot reorder it with the ones before it. Every other request waits for the answers
// before it.
enum class Pipelining { no, in_engine_order };

class RouteTable {
 public:
  RouteTable& add(Method m, std::string_view pattern, Handler h,
                  Pipelining pipelining = Pipelining::no);

  // Answers `respond` exactly once (at once for a routing error, else as the handler does).
  // `req` is only read before dispatch returns.
  void dispatch(const Request& req, Context& ctx, Respond respond) const;

  // What a path matches: the route's index and its parameters, or nothing.
  struct Match {
    std::size_t route = 0;
    std::vector<std::string_view> params;
  };
  std::optional<Match> match(std::string_view path) const;
  // "GET, POST": the methods of route `route`, in the order they were added.
  std::string allow(std::size_t route) const;
  // The route's Pipelining for `m` on `path` (Pipelining::no when none matches).
  Pipelining pipelining(Method m, std::string_view path) const;

 private:
  struct Route {
    std::vector<std::string> segments;  // "{…}" matches any segment
    struct Entry {
      Method method;
      Handler handler;
      Pipelining pipelining;
    };
    std::vector<Entry> methods;
  };
  std::vector<Route> routes_;
};

// The path's segments: "/api/v1/devices/" → {"api", "v1", "devices"}; "" and "/" → {}.
std::vector<std::string_view> split_path(std::string_view path);

// The API's routes:
//   GET|HEAD /health                                   health::get
//   GET      /api/v1/ws/stats                          stats::get
//   POST     /api/v1/telemetry, /api/v1/telemetry/batch          ingest::single, ingest::batch
//   GET|POST /api/v1/devices; GET|PUT|PATCH|DELETE /api/v1/devices/{id};
//   PUT      /api/v1/devices/{id}/status; GET /api/v1/devices/{id}/telemetry/latest
//   GET|POST /api/v1/alert-rules; GET|PUT|PATCH|DELETE /api/v1/alert-rules/{id}
//   GET      /api/v1/alerts, /api/v1/alerts/{id}
//   POST     /api/v1/alerts/{id}/acknowledge, /api/v1/alerts/{id}/resolve
const RouteTable& routes();

// Handles one request with routes(): what net/http_session calls.
void handle(const Request& req, Context& ctx, Respond respond);
// routes().pipelining(m, path) == Pipelining::in_engine_order.
bool may_pipeline(Method m, std::string_view path);

}  // namespace valtronics::api
