// Alert rules over HTTP: their JSON form, and the bodies that create and change one (validated;
// every error names the field, 400 VALIDATION_ERROR).
//
// null: in a create body, null for an optional field means "not given". In a patch, null clears
// device_id/device_type (which makes the rule broader) and duration and cooldown (back to 0);
// null for any other field is an error.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "model/alert.hpp"
#include "model/errors.hpp"

namespace valtronics::api {

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
model::Result<model::AlertRule> rule_from_json(const boost::json::value& body);

// Update: the same fields, all optional (at least one), applied onto `r` with the same checks (a
// refused patch changes nothing).
model::Result<void> apply_rule_patch(model::AlertRule& r, const boost::json::value& body);

}  // namespace valtronics::api
