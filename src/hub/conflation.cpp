// Telemetry conflation: one pass to find each device's last update, one to merge and rebuild.
#include "hub/conflation.hpp"

#include <unordered_map>

#include "protocol/serialize.hpp"

namespace valtronics::hub {

namespace {

struct Merge {
  std::size_t last = 0;    // index of the device's last update in the batch
  std::size_t count = 0;   // updates of the device in the batch
  std::uint32_t merged = 0;
  std::vector<model::MetricReading> readings;
};

void merge_into(std::vector<model::MetricReading>& latest,
                const std::vector<model::MetricReading>& readings) {
  // A handful of metrics per device: a linear search beats a map.
  for (const auto& r : readings) {
    bool replaced = false;
    for (auto& l : latest)
      if (l.name == r.name) {
        l = r;
        replaced = true;
        break;
      }
    if (!replaced) latest.push_back(r);
  }
}

}  // namespace

std::size_t conflate_telemetry(std::vector<EventPtr>& events) {
  std::unordered_map<std::int64_t, Merge> by_device;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i]->channel != model::Channel::telemetry) continue;
    auto& m = by_device[events[i]->device_id()];
    m.last = i;
    ++m.count;
  }
  bool any = false;
  for (const auto& [device, m] : by_device) any = any || m.count > 1;
  if (!any) return 0;

  std::vector<EventPtr> out;
  out.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const EventPtr& e = events[i];
    if (e->channel != model::Channel::telemetry) {
      out.push_back(e);
      continue;
    }
    auto& m = by_device[e->device_id()];
    if (m.count == 1) {
      out.push_back(e);
      continue;
    }
    merge_into(m.readings, std::get<model::TelemetryEvent>(e->body).readings);
    m.merged += e->merged;
    if (i != m.last) continue;
    auto merged = std::make_shared<Event>();
    merged->id = e->id;
    merged->channel = e->channel;
    merged->published_at = e->published_at;
    merged->merged = m.merged;
    merged->body = model::TelemetryEvent{e->device_id(), std::move(m.readings)};
    merged->full_bytes =
        std::make_shared<const std::string>(protocol::serialize_event(merged->body));
    out.push_back(std::move(merged));
  }
  const std::size_t absorbed = events.size() - out.size();
  events = std::move(out);
  return absorbed;
}

}  // namespace valtronics::hub
