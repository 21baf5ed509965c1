// Demo seeding (--demo): devices 1..n with the simulator's names and types, and rules matching
// the simulator's warning and critical ranges (engine/simulator.cpp). Only what is missing is
// added: an existing device keeps its record, and rules are seeded only into an empty rule set.
#include <algorithm>

#include "engine/engine_impl.hpp"

namespace valtronics::engine {

using model::Condition;
using model::Severity;

void Engine::seed_demo(int devices) { impl_->call(&Impl::seed_demo, devices); }

void Engine::Impl::seed_demo(int count) {
  const auto now = util::Clock::now();
  static const char* kNames[] = {"Temperature Sensor", "Humidity Sensor", "Pressure Sensor",
                                 "Air Quality Monitor", "Vibration Sensor"};
  int per_type[5] = {};
  for (int i = 1; i <= count; ++i) {
    // Numbered by position, so that seeding more devices later continues the numbering.
    const int type = (i - 1) % 5;
    const int number = ++per_type[type];
    if (devices.count(i)) continue;
    model::Device d;
    d.id = i;
    d.name = std::string(kNames[type]) + " " + std::to_string(number);
    d.device_type = type == 3 ? model::DeviceType::monitor : model::DeviceType::sensor;
    d.location = "Demo site";
    d.manufacturer = "Valtronics";
    d.model = "SIM-" + std::to_string(type + 1);
    d.firmware_version = "1.0.0";
    d.created_at = d.updated_at = now;
    devices[i] = d;
    tracker.track(i, d.status, std::nullopt);
    next_device_id = std::max(next_device_id, std::int64_t{i} + 1);
    writer->submit([d](store::Database& db) { store::insert_device_if_absent(db, d); });
  }
  if (!evaluator.rules().empty()) return;
  struct Seed {
    const char* name;
    const char* metric;
    Condition condition;
    double threshold;
    Severity severity;
  };
  constexpr Severity warning = Severity::warning, critical = Severity::critical;
  static const Seed kSeeds[] = {
      {"High Temperature", "temperature", Condition::gt, 35, warning},
      {"Critical Temperature", "temperature", Condition::gt, 40, critical},
      {"Low Temperature", "temperature", Condition::lt, 10, warning},
      {"High Humidity", "humidity", Condition::gt, 70, warning},
      {"Low Humidity", "humidity", Condition::lt, 30, warning},
      {"Pressure Out Of Range", "pressure", Condition::gt, 1050, warning},
      {"Poor Air Quality", "aqi", Condition::gt, 100, warning},
      {"Unhealthy Air Quality", "aqi", Condition::gt, 150, critical},
      {"High CO2", "co2", Condition::gt, 1000, warning},
      {"High Vibration", "vibration_rms", Condition::gt, 0.5, warning},
      {"Critical Vibration", "vibration_rms", Condition::gt, 1.0, critical},
  };
  auto rules = evaluator.rules();
  for (const auto& s : kSeeds) {
    model::AlertRule r;
    r.id = next_rule_id++;
    r.name = s.name;
    r.metric = s.metric;
    r.condition = s.condition;
    r.threshold = s.threshold;
    r.severity = s.severity;
    r.cooldown = std::chrono::seconds(60);
    r.created_at = r.updated_at = now;
    rules.push_back(r);
    writer->submit([r](store::Database& db) { store::insert_rule(db, r); });
  }
  apply_rule_decisions(evaluator.set_rules(std::move(rules), now));
}

}  // namespace valtronics::engine
