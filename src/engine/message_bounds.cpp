// The worst cases: every text part at its bound in characters, each character one that JSON
// escapes into six bytes ("\u0001"), every number at its longest, every enum at its longest
// name. What the serializer writes for them is the bound.
#include "engine/message_bounds.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "config/limits.hpp"
#include "engine/alert_text.hpp"
#include "model/enum_names.hpp"
#include "model/events.hpp"
#include "protocol/serialize.hpp"

namespace valtronics::engine {

namespace {

// `chars` characters that each serialize to the most JSON bytes (a control character: 6).
std::string worst_text(std::size_t chars) { return std::string(chars, '\x01'); }

// The value of E whose name is longest.
template <class E>
E longest_name() {
  E best{};
  for (E e : model::all_values<E>())
    if (model::to_string(e).size() > model::to_string(best).size()) best = e;
  return best;
}

model::AlertEvent worst_alert_head() {
  model::AlertEvent a;
  a.alert_id = std::numeric_limits<std::int64_t>::min();
  a.device_id = std::numeric_limits<std::int64_t>::min();
  a.severity = longest_name<model::Severity>();
  a.alert_type = longest_name<model::AlertType>();
  a.status = longest_name<model::AlertStatus>();
  a.timestamp = util::TimePoint{} + std::chrono::hours(24 * 365 * 200);  // a 4-digit year
  return a;
}

// A rule's alert (engine/alerts.cpp), with the metadata its resolution adds.
model::AlertEvent worst_rule_alert() {
  const double longest = -std::numeric_limits<double>::max() / 3;  // 17 significant digits
  auto a = worst_alert_head();
  a.title = worst_text(limits::kMaxNameChars);
  a.message = alert_text::threshold(worst_text(limits::kMaxMetricChars), longest,
                                    worst_text(limits::kMaxUnitChars),
                                    longest_name<model::Condition>(), longest);
  a.metadata = {{"threshold_value", longest},
                {"actual_value", longest},
                {"metric", worst_text(limits::kMaxMetricChars)},
                {"rule_id", std::numeric_limits<std::int64_t>::min()},
                {"condition", model::to_string(longest_name<model::Condition>())},
                {"resolved_value", longest}};
  return a;
}

// A device's offline alert (engine/devices.cpp).
model::AlertEvent worst_offline_alert() {
  auto a = worst_alert_head();
  a.title = "Device Offline";
  a.message = alert_text::offline(worst_text(limits::kMaxNameChars),
                                  worst_text(limits::kMaxReasonChars));
  a.metadata = {{"last_seen", "2026-01-01T12:00:00.000Z"},
                {"reason", alert_text::reason(worst_text(limits::kMaxReasonChars))}};
  return a;
}

model::DeviceStatusEvent worst_status() {
  model::DeviceStatusEvent e;
  e.device_id = std::numeric_limits<std::int64_t>::min();
  e.old_status = e.new_status = longest_name<model::DeviceStatus>();
  e.reason = alert_text::reason(worst_text(limits::kMaxReasonChars));
  e.timestamp = util::TimePoint{} + std::chrono::hours(24 * 365 * 200);
  e.last_seen = e.timestamp;
  return e;
}

}  // namespace

std::size_t largest_stored_message_bytes() {
  const auto size = [](model::EventBody body) { return protocol::serialize_event(body).size(); };
  const std::size_t payload =
      std::max({size(worst_rule_alert()), size(worst_offline_alert()), size(worst_status())});
  // The connection adds `,"seq":N` (N up to 20 digits) and a header of up to 10 bytes.
  constexpr std::size_t kSeqSuffix = sizeof(",\"seq\":18446744073709551615") - 1;
  constexpr std::size_t kHeader = 10;
  return payload + kSeqSuffix + kHeader;
}

}  // namespace valtronics::engine
