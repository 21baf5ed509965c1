// Topic parsing for MQTT ingest (see topics.hpp).
#include "mqtt/topics.hpp"

#include <charconv>

namespace valtronics::mqtt {

namespace {

// Splits off the next level of `rest` (up to '/'), or nullopt at the end.
std::optional<std::string_view> next_level(std::string_view& rest, bool& more) {
  if (!more) return std::nullopt;
  const auto slash = rest.find('/');
  std::string_view level = rest.substr(0, slash);
  if (slash == std::string_view::npos) {
    more = false;
    rest = {};
  } else {
    rest.remove_prefix(slash + 1);
  }
  return level;
}

}  // namespace

std::optional<Topic> parse_topic(std::string_view topic, std::string_view prefix,
                                 std::string& why) {
  if (topic.size() <= prefix.size() || topic.substr(0, prefix.size()) != prefix ||
      topic[prefix.size()] != '/') {
    why = "topic is not under \"" + std::string(prefix) + "/\"";
    return std::nullopt;
  }
  std::string_view rest = topic.substr(prefix.size() + 1);
  bool more = true;
  const auto devices = next_level(rest, more);
  const auto id_text = next_level(rest, more);
  const auto kind = next_level(rest, more);
  if (!devices || *devices != "devices" || !id_text || !kind) {
    why = "expected " + std::string(prefix) + "/devices/{id}/telemetry[/{metric}] or /status";
    return std::nullopt;
  }
  Topic t;
  const char* end = id_text->data() + id_text->size();
  auto [ptr, ec] = std::from_chars(id_text->data(), end, t.device_id);
  if (id_text->empty() || ec != std::errc() || ptr != end || t.device_id <= 0) {
    why = "device id \"" + std::string(id_text->substr(0, 24)) + "\" is not a positive integer";
    return std::nullopt;
  }
  if (*kind == "status" && !more) {
    t.kind = Topic::Kind::status;
    return t;
  }
  if (*kind == "telemetry") {
    if (!more) {
      t.kind = Topic::Kind::telemetry;
      return t;
    }
    const auto metric = next_level(rest, more);
    if (metric && !more && !metric->empty()) {  // its name is checked with the payload
      t.kind = Topic::Kind::metric;
      t.metric = *metric;
      return t;
    }
  }
  why = "expected " + std::string(prefix) + "/devices/{id}/telemetry[/{metric}] or /status";
  return std::nullopt;
}

std::vector<std::string> subscriptions(std::string_view prefix, std::string_view share_group) {
  const std::string p = share_group.empty()
                            ? std::string(prefix)
                            : "$share/" + std::string(share_group) + "/" + std::string(prefix);
  return {p + "/devices/+/telemetry/+", p + "/devices/+/telemetry", p + "/devices/+/status"};
}

}  // namespace valtronics::mqtt
