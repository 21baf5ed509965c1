// Alerts over HTTP: their JSON form, and the body of acknowledge and resolve.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "model/alert.hpp"
#include "model/errors.hpp"

namespace valtronics::api {

// {"alert_id","device_id","severity","alert_type","title","message","status","timestamp",
//  "metadata","rule_id"|null,"acknowledged_at"|null,"acknowledged_by"|null,"resolved_at"|null,
//  "resolved_by"|null,"notes"|null}
boost::json::object to_json(const model::Alert& a);

// acknowledge/resolve body: empty (null, or an empty object), or {"notes": string (<= 2000
// characters)}. Unknown keys: an error naming them.
model::Result<std::string> notes_from_json(const boost::json::value& body);

}  // namespace valtronics::api
