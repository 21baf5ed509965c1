// Event bodies: the device an event is about, and an alert's event form.
#include "model/events.hpp"

namespace valtronics::model {

std::int64_t device_of(const EventBody& body) {
  return std::visit(
      [](const auto& b) -> std::int64_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(b)>, SystemEvent>) return 0;
        else return b.device_id;
      },
      body);
}

AlertEvent to_alert_event(const Alert& a) {
  AlertEvent e;
  e.alert_id = a.id;
  e.device_id = a.device_id;
  e.severity = a.severity;
  e.alert_type = a.alert_type;
  e.title = a.title;
  e.message = a.message;
  e.status = a.status;
  e.timestamp = a.timestamp;
  e.metadata = a.metadata;
  return e;
}

}  // namespace valtronics::model
