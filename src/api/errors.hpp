// Every error the HTTP API answers, in one catalogue: its code (the envelope's error.code), its
// HTTP status and what it means. docs/rest.md lists the same table; a unit test checks that every
// code here is documented there. No other file spells an HTTP error code.
//
// Every error reply has the platform's envelope, built by error_envelope alone:
//   {"success":false,"error":{"code":"...","message":"...","details":{...}}}
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "api/request.hpp"
#include "model/errors.hpp"

namespace valtronics::api {

enum class ErrorCode {
  validation_error,     // 400
  bad_request,          // 400
  unauthorized,         // 401
  forbidden,            // 403
  not_found,            // 404
  device_not_found,     // 404
  method_not_allowed,   // 405
  conflict,             // 409
  invalid_state,        // 409
  payload_too_large,    // 413
  upgrade_required,     // 426
  too_many_requests,    // 429
  headers_too_large,    // 431
  internal_error,       // 500
  service_unavailable,  // 503
  storage_unavailable,  // 503, with Retry-After
  expectation_failed,   // 417 (these last two: added with the abuse limits of issue 10)
  address_banned,       // 403, with Retry-After
};

struct ErrorEntry {
  ErrorCode code;
  std::string_view name;  // "VALIDATION_ERROR"
  int status;             // 400
  std::string_view description;
};

// The catalogue, in ErrorCode order.
std::span<const ErrorEntry> error_catalogue();
const ErrorEntry& entry(ErrorCode c);
std::string_view to_string(ErrorCode c);  // the envelope's code
int http_status(ErrorCode c);

// The catalogue entry a domain error is answered with: invalid → VALIDATION_ERROR, not_found →
// NOT_FOUND, device_not_found → DEVICE_NOT_FOUND, conflict → CONFLICT, invalid_state →
// INVALID_STATE, unavailable → SERVICE_UNAVAILABLE, internal → INTERNAL_ERROR, unauthorized →
// UNAUTHORIZED, forbidden → FORBIDDEN.
ErrorCode error_code(model::DomainError::Kind k);

// The error envelope (the only place that builds one).
boost::json::object error_envelope(ErrorCode c, std::string_view message,
                                   boost::json::object details = {});

// A response carrying the envelope, with the code's status.
Response error_response(ErrorCode c, std::string_view message, boost::json::object details = {});
// The same for a domain error: its kind's code, its message, and its details with `field` added
// as details.field (when the error names one and details do not already).
Response error_response(const model::DomainError& e);

// 413 for a body over `limit` bytes (the transport checks the size before reading the body):
// details {"max_body_bytes": limit}.
Response payload_too_large(std::size_t limit);

}  // namespace valtronics::api
