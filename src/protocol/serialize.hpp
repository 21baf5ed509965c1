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
std::string subscribed(const OptId& id, model::Channel channel, const Filters& filters,
                       std::optional<bool> recovered = std::nullopt,
                       std::optional<std::int64_t> last_alert_id = std::nullopt);
// {"type":"unsubscribed","channel":...,"device_id":n (when given),"removed":count,"id":...}
std::string unsubscribed(const OptId& id, model::Channel channel,
                         std::optional<std::int64_t> device_id, std::size_t removed);
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

// System update restricted to `metrics` (sorted; empty = all).
std::string serialize_system(const model::SystemEvent& event,
                             std::span<const std::string> only_metrics);

}  // namespace valtronics::protocol
