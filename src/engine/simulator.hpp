// The demo simulator: a handful of devices after the platform's mock fleet (temperature with a
// daily cycle and noise, humidity coupled to temperature, pressure, air quality, vibration with
// occasional faults). It is pure: `step(now)` returns the events of that tick, so it is tested
// without timers. The server's --demo mode drives it from a timer and publishes the events.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/events.hpp"

namespace valtronics::engine {

// One simulated device type: produces the readings of one tick.
class DeviceModel {
 public:
  virtual ~DeviceModel() = default;
  virtual std::string type() const = 0;   // temperature, humidity, pressure, air_quality, vibration
  virtual std::vector<model::MetricReading> sample(util::TimePoint now, std::mt19937_64& rng) = 0;
};

// Factory for the five model types by name; nullptr for an unknown name.
std::unique_ptr<DeviceModel> make_device_model(const std::string& type);

// The five model types in the order fleets cycle through them (device i gets type i % 5):
// temperature, humidity, pressure, air_quality, vibration. Shared by the --demo simulator and
// `valtronics simulate` so both fleets look alike.
const std::vector<std::string>& device_model_types();

struct SimulatedDevice {
  std::int64_t id;
  std::string name;
  std::unique_ptr<DeviceModel> model;
  model::DeviceStatus status = model::DeviceStatus::offline;
  util::TimePoint down_until{};         // failed devices come back after this
  util::TimePoint last_seen{};          // time of the last telemetry (DeviceStatusEvent.last_seen)
};

class DemoSimulator {
 public:
  // `devices` simulated devices (ids 1..n, models cycling through the five types).
  explicit DemoSimulator(int devices = 5, std::uint64_t seed = std::random_device{}());

  // One tick (the server calls it every `interval`, default 1 s). Returns, in order:
  //  - device_status_update when a device comes online (first tick), fails (about once every
  //    few minutes one device goes offline or error for 20-60 s) or recovers;
  //  - telemetry_update of each online device;
  //  - alert when a reading enters a model's warning or critical range (once per entry, with a
  //    cooldown of 60 s per device and metric), alert_ids strictly increasing from 1.
  std::vector<model::EventBody> step(util::TimePoint now);

  const std::vector<SimulatedDevice>& devices() const { return devices_; }

 private:
  std::vector<SimulatedDevice> devices_;
  std::mt19937_64 rng_;
  std::int64_t next_alert_id_ = 1;
  // per (device, metric): in range since / last alert time (cooldown)
  struct AlertState {
    bool in_range = false;
    util::TimePoint last_alert{};
    int level = 0;           // 0 normal, 1 warning range, 2 critical range
    int alerted_level = 0;   // severity of the last alert: escalation may pass the cooldown
  };
  std::vector<std::vector<std::pair<std::string, AlertState>>> alert_state_;
  bool started_ = false;
  util::TimePoint next_failure_{};      // when the next device failure is injected
};

}  // namespace valtronics::engine
