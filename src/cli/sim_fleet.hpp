// The fleet of `valtronics simulate`: devices after the platform's mock fleet, built from the
// same models as the server's --demo simulator (engine::make_device_model), turned into ingest
// batch bodies. Pure: time comes in, JSON text goes out, so the readings are unit-tested.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/simulator.hpp"
#include "util/time.hpp"

namespace valtronics::cli {

class SimFleet {
 public:
  struct Device {
    std::int64_t id;
    std::string type;  // temperature, humidity, pressure, air_quality, vibration
    std::unique_ptr<engine::DeviceModel> model;
  };
  struct Tick {
    std::vector<std::string> bodies;  // POST /api/v1/telemetry/batch bodies
    std::size_t readings = 0;         // metric values across the bodies
  };

  // `devices` devices with ids first_id.. first_id + devices - 1, models cycling through
  // engine::device_model_types(); `seed` makes a run reproducible.
  SimFleet(std::int64_t first_id, int devices, std::uint64_t seed);

  // Samples every device at `now`. Items are in the ingest API's second form, one per device:
  //   {"device_id":1,"timestamp":"...Z","telemetry":{"temperature":{"value":21.5,"unit":"°C"}}}
  // wrapped as {"telemetry_data":[...]}, at most `max_items` items per body (the server takes
  // up to ingest.max_items = 1000 per request; fewer keeps each body far below 1 MiB).
  Tick tick(util::TimePoint now, std::size_t max_items = 500);

  // One MQTT message per reading (docs/mqtt.md), as a sensor publishes:
  //   topic   {prefix}/devices/{id}/telemetry/{metric}
  //   payload {"value":21.5,"unit":"°C","timestamp":"...Z"}
  struct Message {
    std::string topic, payload;
  };
  std::vector<Message> messages(util::TimePoint now, const std::string& prefix);

  const std::vector<Device>& devices() const { return devices_; }

 private:
  std::vector<Device> devices_;
  std::mt19937_64 rng_;
};

}  // namespace valtronics::cli
