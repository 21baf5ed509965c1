// The MQTT topics devices publish to (issue 12; docs/mqtt.md), under a configurable prefix
// (mqtt.topic_prefix, "valtronics" by default):
//   {prefix}/devices/{id}/telemetry/{metric}   one reading: a number or {"value",...}
//   {prefix}/devices/{id}/telemetry            the ingest API's single-item forms
//   {prefix}/devices/{id}/status               {"status": "online|offline|...", "reason": ...}
// {id} is the device's positive integer id; {metric} a metric name ([a-z0-9_.-]{1,64}).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace valtronics::mqtt {

struct Topic {
  enum class Kind { metric, telemetry, status };
  Kind kind = Kind::telemetry;
  std::int64_t device_id = 0;
  std::string_view metric;  // Kind::metric only; points into the parsed topic
};

// What `topic` names, or nullopt with `why` set when it is not one of the forms above.
std::optional<Topic> parse_topic(std::string_view topic, std::string_view prefix,
                                 std::string& why);

// The subscriptions that cover every form, for `prefix`: each device id and metric is a `+`.
// `share_group` non-empty (a cluster: cluster.name): shared subscriptions,
// $share/{group}/..., so that the broker hands each message to one node of the group.
std::vector<std::string> subscriptions(std::string_view prefix, std::string_view share_group = {});

}  // namespace valtronics::mqtt
