// Builds server -> client frames. Replies are built per request (rare); updates are built once
// per event and projection and shared by every receiver (see hub/). Knows the domain's event
// bodies (model/), not the hub that carries them.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/enums.hpp"
#include "model/events.hpp"
#include "model/reading.hpp"
#include "protocol/messages.hpp"
#include "util/time.hpp"

namespace valtronics::protocol {

using OptId = std::optional<boost::json::value>;

// {"type":"auth_response","success":true,"message":...,"user":sub,"role":...,"expires_at":...,"id":...}
std::string auth_success(const OptId& id, std::string_view sub, std::string_view role,
                         std::optional<util::TimePoint> expires_at);
// {"type":"auth_response","success":false,"error":code,"message":...,"id":...}
std::string auth_failure(const OptId& id, ErrorCode code, std::string_view message);
// {"type":"subscribed","channel":...,"filters":{normalized, only keys that are set},
//  "recovered":bool (replays only),"last_alert_id":n (alerts channel),"id":...}
// Telemetry frequency is "real-time" or a duration string; system frequency a duration string.
// Severity, alert_type and status_types lists are in name order.
// `forbidden` (a partial subscribe, issue 15): the devices asked for that the token does not
// cover, as "forbidden":[ids] (left out when empty). The extensions' filters appear as given,
// normalized (docs/protocol.md, "Extensions").
std::string subscribed(const OptId& id, model::Channel channel, const Filters& filters,
                       std::optional<bool> recovered = std::nullopt,
                       std::optional<std::int64_t> last_alert_id = std::nullopt,
                       std::span<const std::int64_t> forbidden = {});
// {"type":"unsubscribed","channel":...,"device_id":n (when given),"removed":count,"id":...}
std::string unsubscribed(const OptId& id, model::Channel channel,
                         std::optional<std::int64_t> device_id, std::size_t removed);
// {"type":"hello","features":[...],"id":...}: the features of the request the server applies.
std::string hello(const OptId& id, const std::vector<std::string>& features);

// {"type":"pong","timestamp":<echo, null if none>,"server_time":...,"id":...}
std::string pong(const OptId& id, const std::optional<boost::json::value>& client_timestamp,
                 util::TimePoint now);
// {"type":"error","error":code,"message":...,"id":...}
std::string error(const OptId& id, ErrorCode code, std::string_view message);
// An error about one existing subscription (a token refresh removed it), unsolicited:
// {"type":"error","error":code,"message":...,"channel":...,"device_id":n, or null for the
//  subscription to every device}
std::string subscription_error(ErrorCode code, std::string_view message, model::Channel channel,
                               std::optional<std::int64_t> device_id);
// {"type":"token_expiring","expires_at":...}
std::string token_expiring(util::TimePoint expires_at);

// Update messages, exactly the spec's fields:
//  telemetry_update {type, channel, device_id, telemetry:{name:{value, unit?, timestamp}}}
//  alert {type, channel, alert_id, device_id, severity, alert_type, title, message, status,
//         timestamp, metadata}
//  device_status_update {type, channel, device_id, old_status, new_status, timestamp, reason,
//                        metadata:{last_seen}}
//  system_status_update {type, channel, metrics:{...}, timestamp}
// The channel is the body's (model::channel_of).
std::string serialize_event(const model::EventBody& body);

// Telemetry restricted to `metrics` (sorted); empty string if none of them is in the event.
std::string serialize_telemetry(std::int64_t device_id,
                                std::span<const model::MetricReading> readings,
                                std::span<const std::string> only_metrics = {});

// Extensions of telemetry_update (issue 15), each the plain update plus fields:
// "crossed":{name:"up"|"down"} for the readings that crossed a `crossing` level.
std::string serialize_telemetry_crossed(
    std::int64_t device_id, std::span<const model::MetricReading> readings,
    std::span<const std::pair<std::string, Direction>> crossed);
// A window's aggregate: each metric's "value" is the aggregate of its readings in the window
// and "timestamp" the newest one's, plus "aggregate":name, "window":duration and
// "count":{name:readings in the window}. `counts` is parallel to `readings`.
std::string serialize_telemetry_window(std::int64_t device_id,
                                       std::span<const model::MetricReading> readings,
                                       std::span<const std::int64_t> counts, Aggregate aggregate,
                                       std::chrono::milliseconds window);
// {"type":"telemetry_stale","channel":"telemetry","device_id":n,"metric":name (a clock per
//  metric only),"stale_after":duration,"last_seen":timestamp or null,"timestamp":now}
std::string telemetry_stale(std::int64_t device_id, std::string_view metric,
                            std::chrono::milliseconds after,
                            std::optional<util::TimePoint> last_seen, util::TimePoint now);

// System update restricted to `metrics` (sorted; empty = all).
std::string serialize_system(const model::SystemEvent& event,
                             std::span<const std::string> only_metrics);

}  // namespace valtronics::protocol
