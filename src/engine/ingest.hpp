// Parsing and validation of the platform's Telemetry API bodies (POST /api/v1/telemetry and
// /api/v1/telemetry/batch) into telemetry events. All or nothing: any invalid item rejects the
// whole request and nothing is applied.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/json/object.hpp>
#include <boost/system/result.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "model/events.hpp"
#include "util/time.hpp"

namespace valtronics::engine {

// An error in the platform's envelope:
// {"success":false,"error":{"code":code,"message":message,"details":details}}
struct IngestError {
  int http_status = 400;           // 400 VALIDATION_ERROR, 413 PAYLOAD_TOO_LARGE
  std::string code;                // VALIDATION_ERROR, PAYLOAD_TOO_LARGE
  std::string message;
  boost::json::object details;     // {"index":i,"field":"metric_value"} for item errors
};

// Item forms accepted (each item of a batch may be either):
//  1. {"device_id":1,"metric_name":"temperature","metric_value":23.5,"unit":"°C",
//      "timestamp":"...Z","metadata":{...}}  (unit, timestamp, metadata optional)
//  2. {"device_id":1,"telemetry":{"temperature":{"value":23.5,"unit":"°C","timestamp":"...Z"}}}
// Rules: device_id a positive integer; metric name matches [a-z0-9_.-]{1,64}; value a finite
// number; timestamp a parsable ISO-8601 string (default `now`); unit a string; metadata an object;
// unknown keys are ignored (forward compatibility), known keys of the wrong type are errors.
// Readings of one device within a request are merged into one event per device, in order.
// (A metric repeated for the same device, e.g. a batch of historical readings, starts a further
// event for that device so that no reading is lost and no event names a metric twice.)
// Optional fields that are JSON null count as absent. Form 2 may carry an item-level "timestamp"
// used for the metrics that have none.

// A single item (form 1 or 2).
boost::system::result<std::vector<model::TelemetryEvent>, IngestError>
parse_single(std::string_view body, util::TimePoint now);

// {"telemetry_data":[...]} or a bare array of up to `max_items` items (an empty list is a
// VALIDATION_ERROR). details.index names the failing item.
boost::system::result<std::vector<model::TelemetryEvent>, IngestError>
parse_batch(std::string_view body, std::size_t max_items, util::TimePoint now);

// The 413 reply for a body over `limit` bytes (the HTTP layer checks the size before parsing):
// code PAYLOAD_TOO_LARGE, details {"max_body_bytes":limit}.
IngestError payload_too_large(std::size_t limit);

// Lets result<..., IngestError>::value() throw (found by ADL) instead of failing to compile.
[[noreturn]] void throw_exception_from_error(const IngestError& e,
                                             const boost::source_location& loc);

// Serializes an IngestError into the envelope body.
std::string to_json(const IngestError& e);

// {"success":true,"data":{"accepted":n}}
std::string accepted_json(std::size_t readings);

}  // namespace valtronics::engine
