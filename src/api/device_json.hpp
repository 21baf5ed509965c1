// Devices over HTTP: their JSON form, and the request bodies that create, change and report on
// one (validated; every error names the field, 400 VALIDATION_ERROR).
//
// null: in a create body, null for an optional field means "not given" (clients serializing an
// Optional send null). In a patch, null clears the fields that can be empty (location,
// manufacturer, model, firmware_version, metadata); null for any other field is an error.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <vector>

#include "model/device.hpp"
#include "model/errors.hpp"
#include "model/reading.hpp"

namespace valtronics::api {

// {"id","name","device_type","location","manufacturer","model","firmware_version","metadata",
//  "status","last_seen" (null when never),"created_at","updated_at"}
boost::json::object to_json(const model::Device& d);

// Create: `name` required (non-empty string <= 200 chars); device_type a model::DeviceType name
// (default sensor); location/manufacturer/model/firmware_version strings (<= 200); metadata an
// object; status a model::DeviceStatus name (default offline); `id` optional positive integer (the
// platform's clients may choose ids; telemetry auto-registration uses the reading's id).
// Unknown keys: an error naming them.
model::Result<model::Device> device_from_json(const boost::json::value& body);

// Update: the same fields, all optional (at least one); applied onto `d` (a refused patch
// changes nothing). `id`, `created_at`, `updated_at`, `last_seen` cannot be changed (error naming
// the field); neither can `status` here: use PUT /devices/{id}/status.
model::Result<void> apply_device_patch(model::Device& d, const boost::json::value& body);

// PUT /devices/{id}/status body: {"status": required, "reason": string <= 1000 chars,
// "metadata": object}.
model::Result<model::StatusReport> status_report_from_json(const boost::json::value& body);

// GET /devices/{id}/telemetry/latest:
// {"device_id":1,"telemetry":{"temperature":{"value":23.5,"unit":"°C","timestamp":"..."}}}, the
// shape of a telemetry_update (unit omitted when the reading had none).
boost::json::object latest_telemetry_json(std::int64_t device_id,
                                          const std::vector<model::MetricValue>& values);

}  // namespace valtronics::api
