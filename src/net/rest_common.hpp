// Shared pieces of the REST API (/api/v1/devices, /api/v1/alert-rules, /api/v1/alerts):
//  - pure helpers, unit-tested on their own: target and query-string parsing (percent-decoding),
//    pagination parameters and arithmetic, path id parsing;
//  - the envelopes: {"success":true,"data":...[,"pagination":{...}]} and
//    {"success":false,"error":{"code","message","details"}};
//  - bearer authentication (401) and role checks (403), JSON body parsing (400 naming "body");
//  - the dispatcher and the per-resource handlers (rest_devices.cpp, rest_rules.cpp,
//    rest_alerts.cpp), which call the engine asynchronously and answer through `Respond`.
//
// Order of checks for every REST request: path (404), method (405 with Allow), token (401),
// role (403), engine present (503), path id (400/404), query parameters and body (400), then the
// engine (404 unknown record, 400 invalid field, ...).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/claims.hpp"
#include "config/limits.hpp"
#include "engine/model_json.hpp"
#include "model/enums.hpp"
#include "model/errors.hpp"
#include "net/http_routes.hpp"
#include "net/server_context.hpp"

namespace valtronics::net::rest {

using engine::ApiError;
using engine::ApiResult;

// ---------------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------------

// Errors built by the REST layer itself (the engine and model_json build their own).
ApiError invalid(std::string field, std::string message);  // 400 VALIDATION_ERROR, details.field
ApiError unauthorized(std::string message);                 // 401 UNAUTHORIZED
ApiError forbidden(std::string message);                    // 403 FORBIDDEN
ApiError route_not_found(std::string_view path);            // 404 NOT_FOUND "no route for ..."
ApiError engine_unavailable();                               // 503 SERVICE_UNAVAILABLE

// Decodes %XX escapes and '+' (as a space, form encoding). nullopt on a malformed escape ("%",
// "%4", "%zz").
std::optional<std::string> percent_decode(std::string_view s);

// A request target split at the first '?': path and query (without the '?').
struct Target {
  std::string_view path;
  std::string_view query;
};
Target split_target(std::string_view target);

// Path segments after `prefix` (e.g. "/api/v1/"), or nullopt when the path does not start with
// it. One trailing slash is ignored ("/api/v1/devices/" is "/api/v1/devices"); empty segments in
// the middle are kept (so "/api/v1//devices" matches no route). Segments are not decoded.
std::optional<std::vector<std::string_view>> path_segments(std::string_view path,
                                                           std::string_view prefix);

// Decoded query parameters, in order; a key may repeat.
class QueryParams {
 public:
  void add(std::string key, std::string value) {
    items_.emplace_back(std::move(key), std::move(value));
  }
  // The last value of `key`, if any.
  std::optional<std::string_view> get(std::string_view key) const;
  // Every value of `key`, in order.
  std::vector<std::string_view> all(std::string_view key) const;
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

// Parses "a=1&b=x%20y&c" (no leading '?'): keys and values percent-decoded, "c" alone is ("c",
// ""), empty pieces ("a=1&&b=2") skipped. A malformed escape: 400 naming the parameter (or
// "query" when the key itself cannot be decoded).
ApiResult<QueryParams> parse_query(std::string_view query);

// An integer query parameter in [min, max]: 400 naming `name` otherwise ("page must be an integer
// between 1 and 1000000000"). Leading '+', spaces, fractions and exponents are refused.
ApiResult<std::int64_t> parse_int_param(std::string_view name, std::string_view value,
                                        std::int64_t min, std::int64_t max);

// A list parameter: every value of `name`, each split on commas, trimmed of spaces, empty pieces
// dropped, duplicates removed (first kept). Absent: empty list.
ApiResult<std::vector<std::string>> parse_list_param(const QueryParams& q, std::string_view name);

// The same, each value a name of E (model/enums.hpp); any other value: 400 naming `name` and
// listing E's names ("severity must be one of info, warning, critical (got 'fatal')").
template <class E>
ApiResult<std::vector<E>> parse_enum_list_param(const QueryParams& q, std::string_view name) {
  auto items = parse_list_param(q, name);
  if (!items) return items.error();
  std::vector<E> out;
  out.reserve(items->size());
  for (const auto& item : *items) {
    auto e = model::from_string<E>(item);
    if (!e)
      return invalid(std::string(name), std::string(name) + " must be one of " +
                                            model::names_list<E>() + " (got '" + item + "')");
    out.push_back(*e);
  }
  return out;
}

// Same for a list of positive integers (e.g. device_id=1,2,3).
ApiResult<std::vector<std::int64_t>> parse_id_list_param(const QueryParams& q,
                                                         std::string_view name);

struct PageRequest {
  std::size_t page = 1;
  std::size_t size = limits::kDefaultPageSize;
  std::size_t offset() const { return (page - 1) * size; }
};
ApiResult<PageRequest> parse_pagination(const QueryParams& q);

// The pagination object for `total` items: pages = ceil(total / size) (0 when there are none),
// has_next = page < pages, has_prev = page > 1.
struct PageInfo {
  std::size_t page = 1, size = limits::kDefaultPageSize, total = 0, pages = 0;
  bool has_next = false, has_prev = false;
};
PageInfo page_info(const PageRequest& p, std::size_t total);
boost::json::object to_json(const PageInfo& p);

// A record id in a path segment: a decimal integer without sign. Not digits: 400 naming `field`
// ("id must be a positive integer"); 0 or too large for an int64: 404 NOT_FOUND naming `what`
// ("device 0 not found"), since no such record can exist.
ApiResult<std::int64_t> parse_path_id(std::string_view segment, std::string_view what,
                                      std::string_view field = "id");

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

// What a response needs from its request, captured by value so that it can be built after the
// request is gone (the engine answers later).
struct ResponseMeta {
  unsigned version = 11;
  bool keep_alive = true;
  static ResponseMeta of(const HttpRequest& req) { return {req.version(), req.keep_alive()}; }
};

HttpResponse json_response(const ResponseMeta& m, int status, std::string body);
// {"success":false,"error":{"code","message","details"}} with e.http_status.
std::string error_body(const ApiError& e);
HttpResponse error_response(const ResponseMeta& m, const ApiError& e);
// The HTTP form of an engine refusal.
ApiError to_api_error(const model::DomainError& e);
// A validation error of model_json as the engine's patch callbacks return it.
model::DomainError to_domain_error(const ApiError& e);
// {"success":true,"data":data}
HttpResponse data_response(const ResponseMeta& m, int status, boost::json::value data);
// {"success":true,"data":[...],"pagination":{...}} with 200.
HttpResponse page_response(const ResponseMeta& m, boost::json::array items, const PageInfo& p);
// 405 METHOD_NOT_ALLOWED with an Allow header ("GET, POST").
HttpResponse method_not_allowed(const ResponseMeta& m, std::string_view path,
                                std::string_view allow);

// An engine reply that answers `respond`: the error envelope, or `status` with
// {"success":true,"data":to_data(value)}. Runs on the engine thread.
template <class T, class ToData>
std::function<void(model::Result<T>)> reply_data(ResponseMeta m, Respond respond, int status,
                                                 ToData to_data) {
  return [m, respond = std::move(respond), status,
          to_data = std::move(to_data)](model::Result<T> r) mutable {
    if (!r) return respond(error_response(m, to_api_error(r.error())));
    respond(data_response(m, status, to_data(*r)));
  };
}

// An engine reply carrying a page (`PageT` has `items` and `total`, e.g. engine::Page<Device>):
// the error envelope, or 200 with the items' JSON forms and the pagination object for `p`.
template <class PageT>
std::function<void(model::Result<PageT>)> reply_page(ResponseMeta m, Respond respond,
                                                     PageRequest p) {
  return [m, respond = std::move(respond), p](model::Result<PageT> r) mutable {
    if (!r) return respond(error_response(m, to_api_error(r.error())));
    boost::json::array items;
    items.reserve(r->items.size());
    for (const auto& item : r->items) items.push_back(engine::to_json(item));
    respond(page_response(m, std::move(items), page_info(p, r->total)));
  };
}

// ---------------------------------------------------------------------------------------------
// Authentication, authorization, bodies
// ---------------------------------------------------------------------------------------------

// The verified claims of the request's "Authorization: Bearer <token>", or 401.
ApiResult<auth::Claims> authenticate(const HttpRequest& req, ServerContext& ctx);

// What a request does, and which roles may do it:
//   read     admin, operator, analyst, user (records outside an analyst's or user's `devices`
//            claim are filtered or 404 by the engine)
//   write    admin, operator (device, rule CRUD; device status reports)
//   respond  admin, operator, analyst (acknowledge and resolve alerts)
// Device tokens may do none of these.
enum class Access { read, write, respond };
ApiResult<void> authorize(const auth::Claims& c, Access a);

// The request body as JSON: must be a JSON object. An empty (or all-whitespace) body is an error
// naming "body", unless `optional`: then it yields an empty object.
ApiResult<boost::json::object> parse_body(const HttpRequest& req, bool optional = false);

// ---------------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------------

// One REST request on its way through the handlers.
struct RestRequest {
  const HttpRequest& req;
  ServerContext& ctx;
  std::vector<std::string_view> segments;  // path after "/api/v1/"
  std::string_view path;                    // the whole path, for messages
  std::string_view query;                   // raw query string
  ResponseMeta meta;
};

// Handles `req` if its path is under /api/v1/devices, /api/v1/alert-rules or /api/v1/alerts and
// returns true (having called or arranged to call `respond`); false for any other path.
bool dispatch(const HttpRequest& req, ServerContext& ctx, Respond& respond);

// Per resource (segments[0] is theirs). Each answers 404 for an unknown sub-path.
void handle_devices(const RestRequest& r, Respond respond);
void handle_rules(const RestRequest& r, Respond respond);
void handle_alerts(const RestRequest& r, Respond respond);

// The checks every handler runs after routing: token (401), role (403) and engine (503). On
// failure it has answered `respond` and returns nullopt.
std::optional<auth::Claims> admit(const RestRequest& r, Access a, Respond& respond);

// parse_path_id of `segment`; on failure answers `respond` and returns nullopt.
std::optional<std::int64_t> path_id(const RestRequest& r, std::string_view segment,
                                    std::string_view what, Respond& respond);
// parse_query of the request; on failure answers `respond` and returns nullopt.
std::optional<QueryParams> query_params(const RestRequest& r, Respond& respond);
// parse_body; on failure answers `respond` and returns nullopt.
std::optional<boost::json::object> body_object(const RestRequest& r, bool optional,
                                               Respond& respond);

}  // namespace valtronics::net::rest
