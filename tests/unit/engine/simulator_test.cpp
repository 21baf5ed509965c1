// Tests of the demo simulator as a pure function of seed and ticks: determinism, devices coming
// online on the first tick, plausible readings, and over a simulated hour the alerts and status
// changes a demo needs (increasing alert ids, failures that recover, no telemetry while down).
#include "engine/simulator.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <map>
#include <set>

namespace valtronics::engine {
namespace {

using namespace std::chrono_literals;
using model::AlertStatus;
using model::AlertType;
using model::DeviceStatus;
using model::Severity;

// 2024-01-01T00:00:00Z, so an hour from here covers the night-time low of the daily cycle.
const util::TimePoint kStart = util::TimePoint{} + 1'704'067'200s;

template <class T>
std::vector<T> only(const std::vector<model::EventBody>& events) {
  std::vector<T> out;
  for (const auto& e : events) {
    if (auto* p = std::get_if<T>(&e)) out.push_back(*p);
  }
  return out;
}

std::string fingerprint(const model::EventBody& e) {
  return std::visit(
      [](const auto& ev) -> std::string {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, model::TelemetryEvent>) {
          std::string s = "T" + std::to_string(ev.device_id);
          for (const auto& r : ev.readings) s += " " + r.name + "=" + std::to_string(r.value);
          return s;
        } else if constexpr (std::is_same_v<T, model::AlertEvent>) {
          return "A" + std::to_string(ev.alert_id) + " " + ev.message;
        } else if constexpr (std::is_same_v<T, model::DeviceStatusEvent>) {
          return "S" + std::to_string(ev.device_id) + " " +
                 std::string(model::to_string(ev.new_status)) + " " + ev.reason;
        } else {
          return "Y";
        }
      },
      e);
}

TEST(Simulator, DevicesCycleThroughTheFiveTypes) {
  DemoSimulator sim(7, 1);
  const auto& d = sim.devices();
  ASSERT_EQ(d.size(), 7u);
  const char* types[] = {"temperature", "humidity", "pressure", "air_quality", "vibration",
                         "temperature", "humidity"};
  for (std::size_t i = 0; i < d.size(); ++i) {
    EXPECT_EQ(d[i].id, static_cast<std::int64_t>(i + 1));
    ASSERT_TRUE(d[i].model);
    EXPECT_EQ(d[i].model->type(), types[i]);
    EXPECT_EQ(d[i].status, DeviceStatus::offline);
  }
  EXPECT_EQ(d[0].name, "Temperature Sensor 1");
  EXPECT_EQ(d[5].name, "Temperature Sensor 2");
  EXPECT_EQ(d[3].name, "Air Quality Monitor 1");
}

TEST(Simulator, FactoryKnowsTheFiveTypes) {
  for (const char* t : {"temperature", "humidity", "pressure", "air_quality", "vibration"}) {
    auto m = make_device_model(t);
    ASSERT_TRUE(m) << t;
    EXPECT_EQ(m->type(), t);
  }
  EXPECT_EQ(make_device_model("toaster"), nullptr);
}

TEST(Simulator, FirstTickBringsEveryDeviceOnlineThenSendsTelemetry) {
  DemoSimulator sim(5, 7);
  auto events = sim.step(kStart);
  auto statuses = only<model::DeviceStatusEvent>(events);
  auto telemetry = only<model::TelemetryEvent>(events);
  ASSERT_EQ(statuses.size(), 5u);
  ASSERT_EQ(telemetry.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(statuses[i].device_id, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(statuses[i].old_status, DeviceStatus::offline);
    EXPECT_EQ(statuses[i].new_status, DeviceStatus::online);
    EXPECT_EQ(statuses[i].reason, "Device connected");
    EXPECT_EQ(statuses[i].timestamp, kStart);
  }
  // Status changes come before the telemetry of the same tick.
  EXPECT_TRUE(std::holds_alternative<model::DeviceStatusEvent>(events.front()));
  for (const auto& d : sim.devices()) EXPECT_EQ(d.status, DeviceStatus::online);

  auto second = sim.step(kStart + 1s);
  EXPECT_TRUE(only<model::DeviceStatusEvent>(second).empty());
  EXPECT_EQ(only<model::TelemetryEvent>(second).size(), 5u);
}

TEST(Simulator, SameSeedSameEvents) {
  DemoSimulator a(5, 12345), b(5, 12345), c(5, 54321);
  bool differs = false;
  for (int i = 0; i < 600; ++i) {
    auto now = kStart + std::chrono::seconds(i);
    auto ea = a.step(now), eb = b.step(now), ec = c.step(now);
    ASSERT_EQ(ea.size(), eb.size()) << "tick " << i;
    for (std::size_t j = 0; j < ea.size(); ++j) {
      ASSERT_EQ(fingerprint(ea[j]), fingerprint(eb[j])) << "tick " << i;
    }
    if (ea.size() != ec.size() || fingerprint(ea.back()) != fingerprint(ec.back())) differs = true;
  }
  EXPECT_TRUE(differs) << "a different seed should give different readings";
}

TEST(Simulator, ReadingsArePlausible) {
  DemoSimulator sim(5, 99);
  std::set<std::string> seen;
  for (int i = 0; i < 1800; ++i) {
    auto now = kStart + std::chrono::seconds(i);
    for (const auto& t : only<model::TelemetryEvent>(sim.step(now))) {
      for (const auto& r : t.readings) {
        seen.insert(r.name);
        EXPECT_EQ(r.timestamp, now);
        EXPECT_TRUE(std::isfinite(r.value)) << r.name;
        if (r.name == "temperature") {
          EXPECT_EQ(r.unit, "°C");
          EXPECT_GT(r.value, -20);
          EXPECT_LT(r.value, 60);
        } else if (r.name == "humidity") {
          EXPECT_EQ(r.unit, "%");
          EXPECT_GE(r.value, 0);
          EXPECT_LE(r.value, 100);
        } else if (r.name == "dew_point") {
          EXPECT_EQ(r.unit, "°C");
          EXPECT_GT(r.value, -50);
          EXPECT_LT(r.value, 40);
        } else if (r.name == "pressure" || r.name == "sea_level_pressure") {
          EXPECT_EQ(r.unit, "hPa");
          EXPECT_GT(r.value, 900);
          EXPECT_LT(r.value, 1130);
        } else if (r.name == "pm25" || r.name == "pm10") {
          EXPECT_EQ(r.unit, "µg/m³");
          EXPECT_GE(r.value, 0);
          EXPECT_LT(r.value, 600);
        } else if (r.name == "co2") {
          EXPECT_EQ(r.unit, "ppm");
          EXPECT_GE(r.value, 350);
          EXPECT_LT(r.value, 5000);
        } else if (r.name == "voc") {
          EXPECT_EQ(r.unit, "ppm");
          EXPECT_GE(r.value, 0);
        } else if (r.name == "aqi") {
          EXPECT_GE(r.value, 0);
          EXPECT_LE(r.value, 500);
        } else if (r.name == "vibration_rms" || r.name == "vibration_peak") {
          EXPECT_EQ(r.unit, "mm/s");
          EXPECT_GT(r.value, 0);
          EXPECT_LT(r.value, 10);
        } else if (r.name == "dominant_frequency") {
          EXPECT_EQ(r.unit, "Hz");
          EXPECT_GE(r.value, 10);
          EXPECT_LE(r.value, 1000);
        } else if (r.name == "equipment_health_score") {
          EXPECT_EQ(r.unit, "%");
          EXPECT_GE(r.value, 0);
          EXPECT_LE(r.value, 100);
        }
      }
    }
  }
  for (const char* m : {"temperature", "humidity", "dew_point", "pressure", "sea_level_pressure",
                        "pressure_trend", "pm25", "pm10", "co2", "voc", "aqi", "vibration_rms",
                        "vibration_peak", "dominant_frequency", "equipment_health_score"}) {
    EXPECT_TRUE(seen.count(m)) << m;
  }
}

TEST(Simulator, AnHourHasAlertsAndFailuresThatRecover) {
  DemoSimulator sim(5, 2024);
  std::int64_t last_alert_id = 0;
  std::size_t alerts = 0, warnings = 0, criticals = 0;
  std::size_t failures = 0, recoveries = 0;
  std::map<std::int64_t, util::TimePoint> down_since;
  std::map<std::int64_t, util::TimePoint> last_telemetry;
  std::vector<util::TimePoint> failure_times;

  for (int i = 0; i < 3600; ++i) {
    auto now = kStart + std::chrono::seconds(i);
    auto events = sim.step(now);
    // Order within a tick: status changes, telemetry, alerts.
    int phase = 0;
    for (const auto& e : events) {
      int p = std::holds_alternative<model::DeviceStatusEvent>(e) ? 0
              : std::holds_alternative<model::TelemetryEvent>(e)  ? 1
                                                                 : 2;
      EXPECT_GE(p, phase) << "tick " << i;
      phase = p;
    }
    for (const auto& s : only<model::DeviceStatusEvent>(events)) {
      EXPECT_NE(s.old_status, s.new_status);
      EXPECT_EQ(s.timestamp, now);
      ASSERT_TRUE(s.last_seen.has_value());
      if (i == 0) continue;
      if (s.new_status == DeviceStatus::offline || s.new_status == DeviceStatus::error) {
        ++failures;
        failure_times.push_back(now);
        EXPECT_EQ(s.old_status, DeviceStatus::online);
        EXPECT_TRUE(s.reason == "Connection lost" || s.reason == "Heartbeat timeout" ||
                    s.reason == "Sensor fault" || s.reason == "Too many read errors")
            << s.reason;
        EXPECT_EQ(*s.last_seen, last_telemetry[s.device_id]);
        down_since[s.device_id] = now;
      } else {
        ASSERT_EQ(s.new_status, DeviceStatus::online);
        EXPECT_EQ(s.reason, "Recovered");
        ASSERT_TRUE(down_since.count(s.device_id));
        auto down = now - down_since[s.device_id];
        EXPECT_GE(down, 20s);
        EXPECT_LE(down, 61s);
        down_since.erase(s.device_id);
        ++recoveries;
      }
    }
    for (const auto& t : only<model::TelemetryEvent>(events)) {
      EXPECT_FALSE(down_since.count(t.device_id)) << "telemetry from a device that is down";
      last_telemetry[t.device_id] = now;
    }
    for (const auto& a : only<model::AlertEvent>(events)) {
      ++alerts;
      EXPECT_EQ(a.alert_id, last_alert_id + 1);
      last_alert_id = a.alert_id;
      EXPECT_EQ(a.alert_type, AlertType::threshold);
      EXPECT_EQ(a.status, AlertStatus::active);
      EXPECT_EQ(a.timestamp, now);
      EXPECT_TRUE(a.severity == Severity::warning || a.severity == Severity::critical)
          << model::to_string(a.severity);
      (a.severity == Severity::warning ? warnings : criticals)++;
      EXPECT_NE(a.title.find("Alert"), std::string::npos) << a.title;
      EXPECT_NE(a.message.find("threshold"), std::string::npos) << a.message;
      ASSERT_TRUE(a.metadata.contains("threshold_value"));
      ASSERT_TRUE(a.metadata.contains("actual_value"));
      ASSERT_TRUE(a.metadata.contains("metric"));
      EXPECT_EQ(a.message.rfind(std::string(a.metadata.at("metric").as_string()), 0), 0u);
      EXPECT_TRUE(last_telemetry.count(a.device_id) && last_telemetry[a.device_id] == now);
    }
  }

  // About one alert a minute across five devices; generous bounds keep the test seed-robust.
  EXPECT_GE(alerts, 20u);
  EXPECT_LE(alerts, 200u);
  EXPECT_GT(warnings, 0u);
  EXPECT_GT(criticals, 0u);
  // One failure every 2-4 minutes: 15 to 30 in an hour.
  EXPECT_GE(failures, 14u);
  EXPECT_LE(failures, 31u);
  EXPECT_GE(recoveries + 1, failures);
  for (std::size_t k = 1; k < failure_times.size(); ++k) {
    EXPECT_GE(failure_times[k] - failure_times[k - 1], 120s);
  }
}

TEST(Simulator, AlertCooldownPerDeviceAndMetric) {
  // No (device, metric) raises two alerts of the same severity within 60 s.
  DemoSimulator sim(10, 77);
  std::map<std::pair<std::int64_t, std::string>, std::pair<util::TimePoint, Severity>> last;
  for (int i = 0; i < 3600; ++i) {
    auto now = kStart + std::chrono::seconds(i);
    for (const auto& a : only<model::AlertEvent>(sim.step(now))) {
      auto key = std::make_pair(a.device_id, std::string(a.metadata.at("metric").as_string()));
      auto it = last.find(key);
      if (it != last.end() && now - it->second.first < 60s) {
        // Only an escalation may come sooner.
        EXPECT_EQ(it->second.second, Severity::warning);
        EXPECT_EQ(a.severity, Severity::critical);
      }
      last[key] = {now, a.severity};
    }
  }
  EXPECT_FALSE(last.empty());
}

TEST(Simulator, AlertMessageNamesValueUnitAndThreshold) {
  DemoSimulator sim(5, 3);
  for (int i = 0; i < 3600; ++i) {
    for (const auto& a : only<model::AlertEvent>(sim.step(kStart + std::chrono::seconds(i)))) {
      double thr = a.metadata.at("threshold_value").to_number<double>();
      double actual = a.metadata.at("actual_value").to_number<double>();
      bool above = a.message.find(" exceeds ") != std::string::npos;
      if (above) {
        EXPECT_GT(actual, thr) << a.message;
      } else {
        EXPECT_NE(a.message.find(" is below "), std::string::npos) << a.message;
        EXPECT_LT(actual, thr) << a.message;
      }
      EXPECT_NE(a.message.find(std::string(model::to_string(a.severity)) + " threshold"),
                std::string::npos)
          << a.message;
      if (a.metadata.at("metric") == "temperature") {
        EXPECT_NE(a.message.find(" °C "), std::string::npos) << a.message;
        EXPECT_TRUE(a.title == "High Temperature Alert" || a.title == "Low Temperature Alert");
      }
    }
  }
}

TEST(Simulator, ZeroDevicesIsHarmless) {
  DemoSimulator sim(0, 1);
  EXPECT_TRUE(sim.step(kStart).empty());
  EXPECT_TRUE(sim.step(kStart + 300s).empty());
}

TEST(Simulator, IrregularTicksStayConsistent) {
  // The server's timer may stall; a long gap must not break status bookkeeping.
  DemoSimulator sim(5, 11);
  auto now = kStart;
  for (int i = 0; i < 500; ++i) {
    now += (i % 50 == 0) ? 90s : 1s;
    for (const auto& s : only<model::DeviceStatusEvent>(sim.step(now))) {
      EXPECT_NE(s.old_status, s.new_status);
    }
    std::size_t online = 0;
    for (const auto& d : sim.devices()) online += d.status == DeviceStatus::online;
    EXPECT_GE(online, 4u);
  }
}

}  // namespace
}  // namespace valtronics::engine
