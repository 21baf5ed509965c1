// JSON forms of the domain records for the REST API, and validation of request bodies. Every
// validation error names the field (ApiError with 400 VALIDATION_ERROR and details.field).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <string>

#include "model/alert.hpp"
#include "model/device.hpp"
#include "model/enums.hpp"

namespace valtronics::engine {

// An error in the platform's envelope: {"success":false,"error":{code,message,details}}.
struct ApiError {
  int http_status = 400;
  std::string code = "VALIDATION_ERROR";   // VALIDATION_ERROR, NOT_FOUND, DEVICE_NOT_FOUND, ...
  std::string message;
  boost::json::object details;             // {"field": "..."} for validation errors
};
template <class T>
using ApiResult = boost::system::result<T, ApiError>;
// Lets ApiResult::value() throw (std::runtime_error with the message) on an error.
[[noreturn]] void throw_exception_from_error(const ApiError& e, const boost::source_location& loc);

ApiError validation_error(std::string field, std::string message);
ApiError not_found(std::string what, std::int64_t id);   // 404 NOT_FOUND "device 7 not found"

// ---- devices ----
// {"id","name","device_type","location","manufacturer","model","firmware_version","metadata",
//  "status","last_seen" (null when never),"created_at","updated_at"}
boost::json::object to_json(const model::Device& d);
// Create: `name` required (non-empty string <= 200 chars); device_type a model::DeviceType name
// (default sensor); location/manufacturer/model/firmware_version strings (<= 200); metadata an
// object; status a model::DeviceStatus name (default offline); `id` optional positive integer (the
// platform's clients may choose ids; telemetry auto-registration uses the reading's id).
// Unknown keys: VALIDATION_ERROR naming them.
ApiResult<model::Device> device_from_json(const boost::json::value& body);
// Update: the same fields, all optional (at least one); applied onto `d`. `id`, `created_at`,
// `last_seen` cannot be changed (error naming the field). `status` here is refused: use
// PUT /devices/{id}/status (error naming the field).
ApiResult<void> apply_device_patch(model::Device& d, const boost::json::value& body);
// PUT /devices/{id}/status body: {"status": required, "reason": string, "metadata": object}.
ApiResult<model::StatusReport> status_report_from_json(const boost::json::value& body);

// ---- alert rules ----
// {"id","name","device_id"|null,"device_type"|null,"metric","condition","threshold","severity",
//  "alert_type","duration" (seconds, number),"cooldown" (seconds),"enabled","created_at",
//  "updated_at"}
boost::json::object to_json(const model::AlertRule& r);
// Create: name (required), metric (required, [a-z0-9_.-]{1,64}), condition (required: gt, gte,
// lt, lte, eq, ne), threshold (required, finite number), device_id (positive int) or device_type
// (a model::DeviceType name) or neither — both: error on device_type; severity (info, warning,
// critical; default warning), alert_type (threshold, device, system; default threshold),
// duration and cooldown (non-negative number of seconds or a duration string like "30s";
// default 0), enabled (bool, default true). Unknown keys: error naming them.
ApiResult<model::AlertRule> rule_from_json(const boost::json::value& body);
// Update: same fields, all optional, applied onto `r` with the same checks.
ApiResult<void> apply_rule_patch(model::AlertRule& r, const boost::json::value& body);

// ---- alerts ----
// {"alert_id","device_id","severity","alert_type","title","message","status","timestamp",
//  "metadata","rule_id"|null,"acknowledged_at"|null,"acknowledged_by"|null,"resolved_at"|null,
//  "resolved_by"|null,"notes"|null}
boost::json::object to_json(const model::Alert& a);
// acknowledge/resolve body: empty, or {"notes": string (<= 2000 chars)}.
ApiResult<std::string> notes_from_json(const boost::json::value& body);

}  // namespace valtronics::engine
