// The bodies of the platform's Telemetry API (POST /api/v1/telemetry and
// /api/v1/telemetry/batch), parsed and validated into telemetry events. All or nothing: any
// invalid item refuses the whole request, and nothing is applied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "model/errors.hpp"
#include "model/events.hpp"
#include "util/time.hpp"

namespace valtronics::api {

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

// Errors are model::DomainError `invalid` (400 VALIDATION_ERROR): `field` names the field
// ("metric_value", "telemetry.temperature.unit", "body"), details {"index": i, "field": ...}
// for an item of a batch ({"field": ...} for a single item).
using IngestResult = model::Result<std::vector<model::TelemetryEvent>>;

// A single item (form 1 or 2).
IngestResult parse_single(std::string_view body, util::TimePoint now);

// {"telemetry_data":[...]} or a bare array carrying up to `max_items` readings in all (an item
// of form 2 carries one reading per metric; an empty list is a VALIDATION_ERROR). details.index
// names the failing item. A unit is at most 20 characters.
IngestResult parse_batch(std::string_view body, std::size_t max_items, util::TimePoint now);

// MQTT ingest (issue 12), where the topic names the device:
// `{prefix}/devices/{id}/telemetry`: one item of form 1 or 2 whose device_id may be left out
// (when given, it must equal `device_id`).
IngestResult parse_for_device(std::string_view body, std::int64_t device_id, util::TimePoint now);
// `{prefix}/devices/{id}/telemetry/{metric}`: a bare number (`21.5`) or
// {"value":21.5,"unit":"°C","timestamp":"...","metadata":{...}} (all but value optional).
// Errors name the field ("value", "unit", "metric_name" for a bad name in the topic, "body").
IngestResult parse_metric(std::string_view body, std::int64_t device_id, std::string_view metric,
                          util::TimePoint now);

}  // namespace valtronics::api
