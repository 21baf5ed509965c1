// The HTTP error catalogue and the error envelope.
#include "api/errors.hpp"

#include <array>

namespace valtronics::api {

namespace json = boost::json;

namespace {

using enum ErrorCode;

constexpr std::array<ErrorEntry, 18> kCatalogue{{
    {validation_error, "VALIDATION_ERROR", 400,
     "a parameter or body field is invalid; details.field names it (details.index the item of a "
     "batch)"},
    {bad_request, "BAD_REQUEST", 400,
     "malformed HTTP, ambiguous request framing (Transfer-Encoding other than chunked, both "
     "Content-Length and Transfer-Encoding, a repeated or negative Content-Length), or a "
     "WebSocket upgrade whose Sec-WebSocket-Key is not the base64 of 16 bytes; the connection "
     "is closed"},
    {unauthorized, "UNAUTHORIZED", 401, "no, malformed, invalid or expired bearer token"},
    {forbidden, "FORBIDDEN", 403,
     "the token's role or devices do not allow the request; a WebSocket upgrade from an origin "
     "not allowed"},
    {not_found, "NOT_FOUND", 404,
     "no route for the path, or no such record (details.resource and details.id)"},
    {device_not_found, "DEVICE_NOT_FOUND", 404,
     "ingest for an unregistered device while ingest.auto_register is off (details.device_id); "
     "nothing is applied"},
    {method_not_allowed, "METHOD_NOT_ALLOWED", 405,
     "the path exists but not with this method; the Allow header and details.allow list those "
     "it takes"},
    {conflict, "CONFLICT", 409, "the record exists already (details.field)"},
    {invalid_state, "INVALID_STATE", 409,
     "the record's state forbids the change: an alert already acknowledged or resolved "
     "(details.status)"},
    {payload_too_large, "PAYLOAD_TOO_LARGE", 413,
     "the body exceeds ingest.max_body_bytes (details.max_body_bytes)"},
    {upgrade_required, "UPGRADE_REQUIRED", 426,
     "a WebSocket endpoint asked without an upgrade, or with a version other than 13"},
    {too_many_requests, "TOO_MANY_REQUESTS", 429,
     "more than limits.connections_per_minute new WebSocket connections from this address"},
    {headers_too_large, "HEADERS_TOO_LARGE", 431, "the request headers exceed their limit"},
    {internal_error, "INTERNAL_ERROR", 500, "a fault of the server (a failed read)"},
    {service_unavailable, "SERVICE_UNAVAILABLE", 503,
     "the server is at limits.max_connections WebSockets, limits.max_unauthenticated "
     "WebSockets not yet authenticated, or limits.max_http_connections HTTP connections, or "
     "cannot take the request now"},
    {storage_unavailable, "STORAGE_UNAVAILABLE", 503,
     "the database refuses writes (disk full, I/O error, locked): readings are not accepted; "
     "retry after Retry-After seconds"},
    {expectation_failed, "EXPECTATION_FAILED", 417,
     "an Expect header other than 100-continue; the connection is closed"},
    {address_banned, "ADDRESS_BANNED", 403,
     "the client's address is banned after limits.auth_failures_before_ban bad tokens within "
     "limits.auth_failure_window (any request and WebSocket upgrade, before anything else); "
     "retry after Retry-After seconds, with a valid token"},
}};

}  // namespace

std::span<const ErrorEntry> error_catalogue() { return kCatalogue; }

const ErrorEntry& entry(ErrorCode c) { return kCatalogue[static_cast<std::size_t>(c)]; }
std::string_view to_string(ErrorCode c) { return entry(c).name; }
int http_status(ErrorCode c) { return entry(c).status; }

ErrorCode error_code(model::DomainError::Kind k) {
  using K = model::DomainError::Kind;
  switch (k) {
    case K::invalid: return validation_error;
    case K::not_found: return not_found;
    case K::device_not_found: return device_not_found;
    case K::conflict: return conflict;
    case K::invalid_state: return invalid_state;
    case K::unavailable: return service_unavailable;
    case K::internal: return internal_error;
    case K::unauthorized: return unauthorized;
    case K::forbidden: return forbidden;
  }
  return internal_error;
}

json::object error_envelope(ErrorCode c, std::string_view message, json::object details) {
  return json::object{{"success", false},
                      {"error", json::object{{"code", to_string(c)},
                                             {"message", message},
                                             {"details", std::move(details)}}}};
}

Response error_response(ErrorCode c, std::string_view message, json::object details) {
  return Response{http_status(c), error_envelope(c, message, std::move(details)), {}};
}

Response error_response(const model::DomainError& e) {
  json::object details = e.details;
  if (!e.field.empty() && !details.contains("field")) details["field"] = e.field;
  return error_response(error_code(e.kind), e.message, std::move(details));
}

Response payload_too_large(std::size_t limit) {
  return error_response(ErrorCode::payload_too_large,
                        "request body exceeds the limit of " + std::to_string(limit) + " bytes",
                        json::object{{"max_body_bytes", limit}});
}

}  // namespace valtronics::api
