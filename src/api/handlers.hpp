// The handlers of the HTTP API, one file per resource; api/routes.cpp maps paths and methods to
// them. Each answers its call exactly once (api/call.hpp).
#pragma once

#include "api/call.hpp"

namespace valtronics::api {

// health.cpp: GET|HEAD /health, no token: {"status":"ok","active_connections":n,"storage":
// {"writable":true,"queued_writes":n},"time":"...Z"} (no envelope); "degraded", with
// storage.error, while the database refuses writes (still 200).
namespace health {
void get(Call& c);
}

// metrics.cpp: GET /metrics, Prometheus text format (metrics/exposition.hpp). Without a token
// from metrics.allow, with an admin token from anywhere; 404 on the main listeners when
// metrics.listen gives it a listener of its own.
namespace scrape {
void get(Call& c);
}

// stats.cpp: GET /api/v1/ws/stats, admin: the WebSocket connection figures.
namespace stats {
void get(Call& c);
}

// ingest.cpp: POST /api/v1/telemetry (one item) and /api/v1/telemetry/batch. Token (401), body
// (400, api/ingest_body.hpp), then every device allowed (403, nothing applied), then the engine
// (404 DEVICE_NOT_FOUND when auto-registration is off): 202 {"accepted": readings}. `?sync=true`
// and 503 STORAGE_UNAVAILABLE: api/ingest_durability.hpp.
namespace ingest {
void single(Call& c);
void batch(Call& c);
}  // namespace ingest

// devices.cpp: /api/v1/devices. Reads for every role but device (the engine hides devices
// outside an analyst's or user's `devices`: absent from lists, 404 alone), writes for admin and
// operator.
namespace devices {
void list(Call& c);     // GET    /devices: filters status, device_type; page, size
void create(Call& c);   // POST   /devices: 201
void get(Call& c);      // GET    /devices/{id}
void update(Call& c);   // PUT|PATCH /devices/{id}: partial update
void remove(Call& c);   // DELETE /devices/{id}: 200 with the deleted device
void report_status(Call& c);     // PUT /devices/{id}/status
void latest_telemetry(Call& c);  // GET /devices/{id}/telemetry/latest
// latest_telemetry's answer for device `id`, once the claims were admitted (also
// GET /api/v1/telemetry/latest?device_id=N).
void answer_latest_telemetry(Call& c, std::int64_t id, auth::Claims claims);
}  // namespace devices

// telemetry.cpp (issue 14; docs/telemetry.md): the history of readings, read on store::Reader's
// threads, within the token's devices (404 or absent outside them; device tokens 403).
namespace telemetry {
void list(Call& c);     // GET /api/v1/telemetry: raw readings, newest first; page, size <= 1000
void history(Call& c);  // GET /api/v1/telemetry/history: one series in buckets
void latest(Call& c);   // GET /api/v1/telemetry/latest?device_id=N: as the devices route
void export_(Call& c);  // GET /api/v1/telemetry/export: CSV or JSON, streamed
}  // namespace telemetry

// rules.cpp: /api/v1/alert-rules, admin and operator only.
namespace rules {
void list(Call& c);    // GET    /alert-rules: page, size; ordered by id
void create(Call& c);  // POST   /alert-rules: 201
void get(Call& c);     // GET    /alert-rules/{id}
void update(Call& c);  // PUT|PATCH /alert-rules/{id}: only the fields given change
void remove(Call& c);  // DELETE /alert-rules/{id}: 200 with the deleted rule
}  // namespace rules

// alerts.cpp: /api/v1/alerts. Reads for every role but device, within the token's devices;
// acknowledge and resolve for admin, operator and analyst.
namespace alerts {
void list(Call& c);         // GET  /alerts: filters status, severity, alert_type, device_id,
                            //      since_id; page, size; ordered by alert_id
void get(Call& c);          // GET  /alerts/{id}
void acknowledge(Call& c);  // POST /alerts/{id}/acknowledge: body empty or {"notes": "..."}
void resolve(Call& c);      // POST /alerts/{id}/resolve: same
}  // namespace alerts

// static_files.cpp (issue 14): the dashboard's built files, from memory (api/static_files.hpp),
// no token. 404 saying how to build it when none was loaded.
namespace web {
void index(Call& c);  // GET|HEAD / and /index.html
void asset(Call& c);  // GET|HEAD /assets/{file}
}  // namespace web

}  // namespace valtronics::api
