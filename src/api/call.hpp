// One request on its way through a handler, and the steps every handler shares. Order of checks
// for every request: path (404) and method (405, api/routes), token (401), role (403), path id
// (400/404), query parameters and body (400), then the engine (404 unknown record, 409, ...).
//
// The steps that can fail answer the call themselves (the error envelope) and return nullopt;
// the handler then just returns.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "api/context.hpp"
#include "api/envelope.hpp"
#include "api/errors.hpp"
#include "api/query.hpp"
#include "api/request.hpp"
#include "auth/claims.hpp"
#include "auth/policy.hpp"
#include "model/errors.hpp"

namespace valtronics::api {

struct Call {
  const Request& request;  // valid until the handler returns: capture what an answer needs
  Context& ctx;
  std::vector<std::string_view> params;  // the path's {…} segments, in pattern order
  Respond respond;

  void fail(const model::DomainError& e) { respond(error_response(e)); }
};

// A handler: answers `call.respond` exactly once, now or later (from the engine's thread).
using Handler = std::function<void(Call&)>;

// The verified claims of "Authorization: Bearer <token>", or `unauthorized`.
model::Result<auth::Claims> authenticate(const Request& req, const auth::JwtVerifier& verifier);
// `forbidden` with the policy's reason unless the claims may do `a` (auth/policy.hpp).
model::Result<void> authorize(const auth::Claims& c, auth::Action a);

// authenticate (401), then authorize `a` (403).
std::optional<auth::Claims> admit(Call& c, auth::Action a);
// authenticate only (ingest checks each device itself).
std::optional<auth::Claims> authenticated(Call& c);
// parse_path_id of path parameter `param`.
std::optional<std::int64_t> path_id(Call& c, std::size_t param, std::string_view what);
// parse_query of the request's query string.
std::optional<QueryParams> query_params(Call& c);
// body::parse_object of the request's body.
std::optional<boost::json::object> body_object(Call& c, bool optional);

// An engine reply that answers the call: the error envelope, or `status` with
// {"success":true,"data":to_data(value)}. Runs on the engine thread.
template <class T, class ToData>
std::function<void(model::Result<T>)> reply_data(Respond respond, int status, ToData to_data) {
  return [respond = std::move(respond), status,
          to_data = std::move(to_data)](model::Result<T> r) mutable {
    if (!r) return respond(error_response(r.error()));
    respond(data_response(status, boost::json::value(to_data(*r))));
  };
}

// An engine reply carrying a page (`PageT` has `items` and `total`, e.g. engine::Page<Device>):
// the error envelope, or 200 with the items' JSON forms and the pagination object.
template <class PageT, class ToJson>
std::function<void(model::Result<PageT>)> reply_page(Respond respond, PageRequest p,
                                                     ToJson item_json) {
  return [respond = std::move(respond), p, item_json](model::Result<PageT> r) mutable {
    if (!r) return respond(error_response(r.error()));
    boost::json::array items;
    items.reserve(r->items.size());
    for (const auto& item : r->items) items.push_back(item_json(item));
    respond(page_response(std::move(items), page_info(p, r->total)));
  };
}

}  // namespace valtronics::api
