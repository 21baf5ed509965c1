// Sampling the simulated fleet into ingest batch bodies; see sim_fleet.hpp.
#include "cli/sim_fleet.hpp"

#include <algorithm>

#include "protocol/json_writer.hpp"

namespace valtronics::cli {

SimFleet::SimFleet(std::int64_t first_id, int devices, std::uint64_t seed) : rng_(seed) {
  const auto& types = engine::device_model_types();
  devices_.reserve(static_cast<std::size_t>(std::max(0, devices)));
  for (int i = 0; i < devices; ++i) {
    const auto& type = types[static_cast<std::size_t>(i) % types.size()];
    devices_.push_back(Device{first_id + i, type, engine::make_device_model(type)});
  }
}

SimFleet::Tick SimFleet::tick(util::TimePoint now, std::size_t max_items) {
  Tick out;
  max_items = std::max<std::size_t>(1, max_items);
  const std::string ts = util::iso8601(now);
  std::string body;
  std::size_t items = 0;
  auto flush = [&] {
    if (items == 0) return;
    body += "]}";
    out.bodies.push_back(std::move(body));
    body.clear();
    items = 0;
  };
  for (auto& d : devices_) {
    auto readings = d.model->sample(now, rng_);
    if (readings.empty()) continue;
    body += items == 0 ? "{\"telemetry_data\":[" : ",";
    // Written directly rather than through a json::value: one batch per second of a thousand
    // devices would otherwise build and free thousands of small objects.
    body += "{\"device_id\":";
    protocol::append_json_int(body, d.id);
    body += ",\"timestamp\":";
    protocol::append_json_string(body, ts);
    body += ",\"telemetry\":{";
    bool first = true;
    for (const auto& r : readings) {
      if (!first) body += ',';
      first = false;
      protocol::append_json_string(body, r.name);
      body += ":{\"value\":";
      protocol::append_json_double(body, r.value);
      if (!r.unit.empty()) {
        body += ",\"unit\":";
        protocol::append_json_string(body, r.unit);
      }
      body += '}';
      ++out.readings;
    }
    body += "}}";
    if (++items == max_items) flush();
  }
  flush();
  return out;
}

std::vector<SimFleet::Message> SimFleet::messages(util::TimePoint now, const std::string& prefix) {
  std::vector<Message> out;
  const std::string ts = util::iso8601(now);
  for (auto& d : devices_) {
    for (const auto& r : d.model->sample(now, rng_)) {
      Message m;
      m.topic = prefix + "/devices/" + std::to_string(d.id) + "/telemetry/" + r.name;
      m.payload = "{\"value\":";
      protocol::append_json_double(m.payload, r.value);
      if (!r.unit.empty()) {
        m.payload += ",\"unit\":";
        protocol::append_json_string(m.payload, r.unit);
      }
      m.payload += ",\"timestamp\":";
      protocol::append_json_string(m.payload, ts);
      m.payload += '}';
      out.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace valtronics::cli
