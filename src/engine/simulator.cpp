// The demo fleet: five device models after the platform's mock devices, plus the simulator that
// injects failures and turns readings into threshold alerts. Everything random comes from the
// one generator passed in, and every time from `now`, so a seed and a sequence of ticks replay
// exactly (the tests rely on it). The platform's mock devices would alert about once a day; a
// demo must show alerts within a minute, so each model has occasional excursions (spikes, storms,
// pollution events, mechanical faults) that push its main metric into a warning or critical range.
#include "engine/simulator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>

namespace valtronics::engine {

namespace {

using namespace std::chrono_literals;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Per device, one excursion every ~5 minutes on average: with the default five devices that is
// an alert about every minute across the fleet.
constexpr double kMeanExcursionGapS = 300.0;
// A long pause between ticks (server stalled, device offline) must not make an excursion certain.
constexpr double kMaxTickS = 5.0;
constexpr auto kAlertCooldown = 60s;

double seconds(util::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}
double gauss(std::mt19937_64& rng, double sigma) {
  return std::normal_distribution<double>(0.0, sigma)(rng);
}
bool chance(std::mt19937_64& rng, double p) { return uniform(rng, 0.0, 1.0) < p; }

double round_to(double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

// -1..1 over the UTC day, warmest at 15:00 as outdoor temperature is.
double daily_cycle(util::TimePoint now) {
  auto since_epoch = now.time_since_epoch();
  double day_s = std::fmod(seconds(since_epoch), 86400.0);
  double hour = day_s / 3600.0;
  return std::sin(2.0 * std::numbers::pi * (hour - 9.0) / 24.0);
}

// Warning and critical ranges of one metric; outside [warn_lo, warn_hi] is warning, outside
// [crit_lo, crit_hi] critical. One-sided metrics use infinities.
struct Limits {
  const char* metric;
  const char* high_title;
  const char* low_title;
  double warn_lo, warn_hi, crit_lo, crit_hi;
};

constexpr std::array<Limits, 6> kLimits = {{
    {"temperature", "High Temperature Alert", "Low Temperature Alert", 10, 35, 5, 40},
    {"humidity", "High Humidity Alert", "Low Humidity Alert", 30, 70, 20, 80},
    {"pressure", "High Pressure Alert", "Low Pressure Alert", 980, 1050, 950, 1080},
    {"aqi", "Poor Air Quality Alert", "", -kInf, 100, -kInf, 150},
    {"co2", "High CO2 Alert", "", -kInf, 1000, -kInf, 2000},
    {"vibration_rms", "High Vibration Alert", "", -kInf, 0.5, -kInf, 1.0},
}};

const Limits* limits_for(const std::string& metric) {
  for (const auto& l : kLimits) {
    if (metric == l.metric) return &l;
  }
  return nullptr;
}

// 0 normal, 1 warning, 2 critical; `high` says which side was left.
int classify(const Limits& l, double v, bool& high) {
  high = v > l.warn_hi;
  if (v < l.crit_lo || v > l.crit_hi) return 2;
  if (v < l.warn_lo || v > l.warn_hi) return 1;
  return 0;
}

// Where an excursion should peak: mostly inside the warning band, sometimes past critical; for a
// two-sided range, the high side a little more often than the low.
double excursion_target(const Limits& l, std::mt19937_64& rng) {
  bool has_low = std::isfinite(l.warn_lo);
  bool high = !has_low || chance(rng, 0.6);
  bool critical = chance(rng, 0.3);
  double warn = high ? l.warn_hi : l.warn_lo;
  double crit = high ? l.crit_hi : l.crit_lo;
  double band = crit - warn;  // signed: negative on the low side
  if (critical) return crit + band * uniform(rng, 0.1, 0.6);
  return warn + band * uniform(rng, 0.25, 0.75);
}

// A temporary offset added to a metric: ramps up, holds, decays. Ramps are a few seconds so a
// critical excursion usually passes through the warning band first (two alerts, escalating).
class Excursion {
 public:
  bool active(util::TimePoint now) const { return now < end_; }

  void start(util::TimePoint now, double peak, std::mt19937_64& rng, double min_ramp_s = 2.0,
             double max_ramp_s = 6.0) {
    start_ = now;
    peak_ = peak;
    ramp_s_ = uniform(rng, min_ramp_s, max_ramp_s);
    hold_s_ = uniform(rng, 15.0, 40.0);
    decay_s_ = uniform(rng, 4.0, 10.0);
    end_ = now + std::chrono::duration_cast<util::Clock::duration>(
                     std::chrono::duration<double>(ramp_s_ + hold_s_ + decay_s_));
  }

  double offset(util::TimePoint now) const {
    if (!active(now) || now < start_) return 0.0;
    double t = seconds(now - start_);
    if (t < ramp_s_) return peak_ * t / ramp_s_;
    t -= ramp_s_;
    if (t < hold_s_) return peak_;
    t -= hold_s_;
    return peak_ * std::max(0.0, 1.0 - t / decay_s_);
  }

  // 0..1: how far into the excursion the offset is, for side effects such as a fault frequency.
  double strength(util::TimePoint now) const {
    return peak_ == 0.0 ? 0.0 : offset(now) / peak_;
  }

 private:
  util::TimePoint start_{}, end_{};
  double peak_ = 0, ramp_s_ = 1, hold_s_ = 0, decay_s_ = 1;
};

// Shared by the models: elapsed time since the previous sample and the excursion dice.
class ModelBase : public DeviceModel {
 protected:
  // Seconds since the previous sample, 0 on the first.
  double tick(util::TimePoint now) {
    double dt = started_ ? std::clamp(seconds(now - last_), 0.0, kMaxTickS) : 0.0;
    started_ = true;
    last_ = now;
    return dt;
  }
  // Probability scaled by elapsed time so the rate does not depend on the tick interval.
  static bool roll_excursion(double dt, std::mt19937_64& rng) {
    return dt > 0 && chance(rng, dt / kMeanExcursionGapS);
  }
  // Mean-reverting random walk for slow drifts (weather, wear): stays within a few sigma.
  static void drift(double& x, double dt, double sigma, double reversion, std::mt19937_64& rng) {
    if (dt <= 0) return;
    x += -x * reversion * dt + gauss(rng, sigma * std::sqrt(dt));
  }

  bool initialized_ = false;

 private:
  bool started_ = false;
  util::TimePoint last_{};
};

model::MetricReading reading(std::string name, double value, std::string unit,
                           util::TimePoint ts) {
  return model::MetricReading{std::move(name), value, std::move(unit), ts};
}

class TemperatureModel final : public ModelBase {
 public:
  std::string type() const override { return "temperature"; }

  std::vector<model::MetricReading> sample(util::TimePoint now, std::mt19937_64& rng) override {
    if (!initialized_) {
      offset_ = uniform(rng, -2.0, 2.0);  // devices in different rooms differ a little
      initialized_ = true;
    }
    double dt = tick(now);
    drift(drift_, dt, 0.05, 0.002, rng);
    double base = 22.0 + offset_ + 8.0 * daily_cycle(now) + drift_;
    if (!exc_.active(now) && roll_excursion(dt, rng))
      exc_.start(now, excursion_target(*limits_for("temperature"), rng) - base, rng);
    double t = base + exc_.offset(now) + gauss(rng, 0.15);
    return {reading("temperature", round_to(t, 2), "°C", now)};
  }

 private:
  double offset_ = 0, drift_ = 0;
  Excursion exc_;
};

// Magnus formula (Sonntag constants): dew point from temperature and relative humidity.
double dew_point(double temp_c, double rh) {
  constexpr double a = 17.62, b = 243.12;
  double g = std::log(std::clamp(rh, 1.0, 100.0) / 100.0) + a * temp_c / (b + temp_c);
  return b * g / (a - g);
}

class HumidityModel final : public ModelBase {
 public:
  std::string type() const override { return "humidity"; }

  std::vector<model::MetricReading> sample(util::TimePoint now, std::mt19937_64& rng) override {
    if (!initialized_) {
      offset_ = uniform(rng, -5.0, 5.0);
      temp_offset_ = uniform(rng, -2.0, 2.0);
      initialized_ = true;
    }
    double dt = tick(now);
    drift(drift_, dt, 0.1, 0.002, rng);
    double daily = daily_cycle(now);
    // Relative humidity falls as the air warms during the day.
    double temp = 22.0 + temp_offset_ + 8.0 * daily;
    double base = 50.0 + offset_ - 10.0 * daily + drift_;
    if (!exc_.active(now) && roll_excursion(dt, rng))
      exc_.start(now, excursion_target(*limits_for("humidity"), rng) - base, rng);
    double rh = std::clamp(base + exc_.offset(now) + gauss(rng, 0.4), 0.0, 100.0);
    double dp = dew_point(temp + gauss(rng, 0.1), rh);
    return {reading("humidity", round_to(rh, 2), "%", now),
            reading("dew_point", round_to(dp, 2), "°C", now)};
  }

 private:
  double offset_ = 0, temp_offset_ = 0, drift_ = 0;
  Excursion exc_;
};

class PressureModel final : public ModelBase {
 public:
  std::string type() const override { return "pressure"; }

  std::vector<model::MetricReading> sample(util::TimePoint now, std::mt19937_64& rng) override {
    if (!initialized_) {
      altitude_m_ = uniform(rng, 20.0, 150.0);
      weather_ = uniform(rng, -8.0, 8.0);
      initialized_ = true;
    }
    double dt = tick(now);
    drift(weather_, dt, 0.03, 0.0005, rng);
    double base = 1013.25 + weather_;
    if (!exc_.active(now) && roll_excursion(dt, rng))
      // Pressure moves slowly even in a storm; a longer ramp keeps pressure_trend believable.
      exc_.start(now, excursion_target(*limits_for("pressure"), rng) - base, rng, 20.0, 40.0);
    double smooth = base + exc_.offset(now);
    // The trend follows the noise-free signal, smoothed over about a minute as a barometer's
    // tendency is. A demo storm is compressed from hours into a minute, so the figure is capped
    // at what real weather can show rather than reporting hundreds of hPa/min.
    if (dt > 0) {
      double rate = (smooth - prev_smooth_) / dt * 60.0;
      trend_ += (rate - trend_) * std::min(1.0, dt / 60.0);
    }
    prev_smooth_ = smooth;
    double p = smooth + gauss(rng, 0.05);
    // Barometric reduction to sea level at the device's altitude (standard atmosphere, 15 °C).
    double slp = p * std::pow(1.0 - 0.0065 * altitude_m_ / 288.15, -5.257);
    return {reading("pressure", round_to(p, 2), "hPa", now),
            reading("sea_level_pressure", round_to(slp, 2), "hPa", now),
            reading("pressure_trend", round_to(std::clamp(trend_, -kMaxTrend, kMaxTrend), 3),
                    "hPa/min", now)};
  }

 private:
  static constexpr double kMaxTrend = 5.0;  // hPa/min
  double altitude_m_ = 0, weather_ = 0, trend_ = 0, prev_smooth_ = 1013.25;
  Excursion exc_;
};

// US EPA breakpoints: concentration ranges mapped linearly onto AQI bands.
struct Breakpoint { double c_lo, c_hi, i_lo, i_hi; };
constexpr std::array<Breakpoint, 7> kPm25 = {{{0.0, 12.0, 0, 50},
                                             {12.1, 35.4, 51, 100},
                                             {35.5, 55.4, 101, 150},
                                             {55.5, 150.4, 151, 200},
                                             {150.5, 250.4, 201, 300},
                                             {250.5, 350.4, 301, 400},
                                             {350.5, 500.4, 401, 500}}};
constexpr std::array<Breakpoint, 7> kPm10 = {{{0, 54, 0, 50},
                                             {55, 154, 51, 100},
                                             {155, 254, 101, 150},
                                             {255, 354, 151, 200},
                                             {355, 424, 201, 300},
                                             {425, 504, 301, 400},
                                             {505, 604, 401, 500}}};

template <std::size_t N>
double to_aqi(const std::array<Breakpoint, N>& table, double c) {
  for (const auto& b : table) {
    if (c <= b.c_hi) {
      double cc = std::max(c, b.c_lo);
      return b.i_lo + (b.i_hi - b.i_lo) * (cc - b.c_lo) / (b.c_hi - b.c_lo);
    }
  }
  return 500.0;
}

template <std::size_t N>
double from_aqi(const std::array<Breakpoint, N>& table, double aqi) {
  for (const auto& b : table) {
    if (aqi <= b.i_hi) {
      double ii = std::max(aqi, b.i_lo);
      return b.c_lo + (b.c_hi - b.c_lo) * (ii - b.i_lo) / (b.i_hi - b.i_lo);
    }
  }
  return table.back().c_hi;
}

class AirQualityModel final : public ModelBase {
 public:
  std::string type() const override { return "air_quality"; }

  std::vector<model::MetricReading> sample(util::TimePoint now, std::mt19937_64& rng) override {
    if (!initialized_) {
      pm_ratio_ = uniform(rng, 1.5, 1.8);
      initialized_ = true;
    }
    double dt = tick(now);
    drift(pm_drift_, dt, 0.1, 0.003, rng);
    drift(co2_drift_, dt, 2.0, 0.003, rng);
    double pm_base = std::max(2.0, 15.0 + pm_drift_);
    // Occupied hours raise CO2 indoors.
    double co2_base = 420.0 + 120.0 * std::max(0.0, daily_cycle(now)) + co2_drift_;

    if (!pm_exc_.active(now) && !co2_exc_.active(now) && roll_excursion(dt, rng)) {
      if (chance(rng, 0.5)) {
        double target_aqi = excursion_target(*limits_for("aqi"), rng);
        pm_exc_.start(now, from_aqi(kPm25, target_aqi) - pm_base, rng);
      } else {
        co2_exc_.start(now, excursion_target(*limits_for("co2"), rng) - co2_base, rng);
      }
    }
    double pm25 = std::max(0.0, pm_base + pm_exc_.offset(now) + gauss(rng, 0.5));
    double pm10 = std::max(pm25, pm25 * pm_ratio_ + gauss(rng, 0.8));
    double co2 = std::max(350.0, co2_base + co2_exc_.offset(now) + gauss(rng, 8.0));
    double voc = std::max(0.0, 0.2 + 0.0002 * (co2 - 420.0) + gauss(rng, 0.01));
    double aqi = std::round(std::max(to_aqi(kPm25, round_to(pm25, 1)),
                                     to_aqi(kPm10, std::round(pm10))));
    return {reading("pm25", round_to(pm25, 1), "µg/m³", now),
            reading("pm10", round_to(pm10, 1), "µg/m³", now),
            reading("co2", round_to(co2, 0), "ppm", now),
            reading("voc", round_to(voc, 3), "ppm", now),
            reading("aqi", aqi, "", now)};
  }

 private:
  double pm_ratio_ = 1.6, pm_drift_ = 0, co2_drift_ = 0;
  Excursion pm_exc_, co2_exc_;
};

class VibrationModel final : public ModelBase {
 public:
  std::string type() const override { return "vibration"; }

  std::vector<model::MetricReading> sample(util::TimePoint now, std::mt19937_64& rng) override {
    if (!initialized_) {
      line_hz_ = chance(rng, 0.5) ? 50.0 : 60.0;
      initialized_ = true;
    }
    double dt = tick(now);
    drift(wear_, dt, 0.0005, 0.001, rng);
    double base = 0.1 + std::abs(wear_);
    if (!exc_.active(now) && roll_excursion(dt, rng)) {
      // Typical fault signatures: bearing defect frequencies, 1x/2x running speed, gear mesh.
      static constexpr std::array<double, 5> kFaultHz = {157.0, 100.0, 50.0, 25.0, 420.0};
      fault_hz_ = kFaultHz[std::uniform_int_distribution<std::size_t>(0, 4)(rng)];
      exc_.start(now, excursion_target(*limits_for("vibration_rms"), rng) - base, rng);
    }
    double fault = exc_.strength(now);
    double rms = std::max(0.02, base + exc_.offset(now) + gauss(rng, 0.008));
    double crest = std::max(1.2, 2.8 + 1.5 * fault + gauss(rng, 0.1));
    double freq = (fault > 0.5 ? fault_hz_ : line_hz_) + gauss(rng, 0.3);
    double health = std::clamp(100.0 - std::max(0.0, rms - 0.1) * 60.0, 0.0, 100.0);
    return {reading("vibration_rms", round_to(rms, 3), "mm/s", now),
            reading("vibration_peak", round_to(rms * crest, 3), "mm/s", now),
            reading("dominant_frequency", round_to(freq, 1), "Hz", now),
            reading("equipment_health_score", round_to(health, 1), "%", now)};
  }

 private:
  double line_hz_ = 50, fault_hz_ = 50, wear_ = 0;
  Excursion exc_;
};

struct TypeInfo { const char* type; const char* display; };
constexpr std::array<TypeInfo, 5> kTypes = {{{"temperature", "Temperature Sensor"},
                                             {"humidity", "Humidity Sensor"},
                                             {"pressure", "Pressure Sensor"},
                                             {"air_quality", "Air Quality Monitor"},
                                             {"vibration", "Vibration Sensor"}}};

// The reading as sent ("36.2", "1248", "0.503"): models round to at most three decimals, and
// rounding further here could print "35 °C exceeds warning threshold 35" for 35.04.
std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}
std::string format_threshold(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

util::Clock::duration seconds_between(std::mt19937_64& rng, double lo, double hi) {
  return std::chrono::duration_cast<util::Clock::duration>(
      std::chrono::duration<double>(uniform(rng, lo, hi)));
}

}  // namespace

std::unique_ptr<DeviceModel> make_device_model(const std::string& type) {
  if (type == "temperature") return std::make_unique<TemperatureModel>();
  if (type == "humidity") return std::make_unique<HumidityModel>();
  if (type == "pressure") return std::make_unique<PressureModel>();
  if (type == "air_quality") return std::make_unique<AirQualityModel>();
  if (type == "vibration") return std::make_unique<VibrationModel>();
  return nullptr;
}

const std::vector<std::string>& device_model_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> out;
    for (const auto& t : kTypes) out.emplace_back(t.type);
    return out;
  }();
  return types;
}

DemoSimulator::DemoSimulator(int devices, std::uint64_t seed) : rng_(seed) {
  int n = std::max(0, devices);
  std::array<int, kTypes.size()> per_type{};
  devices_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::size_t t = static_cast<std::size_t>(i) % kTypes.size();
    SimulatedDevice d;
    d.id = i + 1;
    d.name = std::string(kTypes[t].display) + " " + std::to_string(++per_type[t]);
    d.model = make_device_model(kTypes[t].type);
    devices_.push_back(std::move(d));
  }
  alert_state_.resize(devices_.size());
}

std::vector<model::EventBody> DemoSimulator::step(util::TimePoint now) {
  std::vector<model::EventBody> out;
  std::vector<model::EventBody> alerts;

  using model::DeviceStatus;
  auto status_change = [&](SimulatedDevice& d, DeviceStatus to, std::string reason) {
    model::DeviceStatusEvent ev;
    ev.device_id = d.id;
    ev.old_status = d.status;
    ev.new_status = to;
    ev.reason = std::move(reason);
    ev.timestamp = now;
    // Coming online, the device is heard from now (its telemetry follows in this tick).
    if (to == DeviceStatus::online) d.last_seen = now;
    ev.last_seen = d.last_seen;
    d.status = to;
    out.emplace_back(std::move(ev));
  };

  if (!started_) {
    started_ = true;
    // The first failure comes a little sooner than the rest so a demo shows one early.
    next_failure_ = now + seconds_between(rng_, 60.0, 150.0);
    for (auto& d : devices_) status_change(d, DeviceStatus::online, "Device connected");
  } else {
    for (auto& d : devices_) {
      if (d.status != DeviceStatus::online && now >= d.down_until)
        status_change(d, DeviceStatus::online, "Recovered");
    }
    if (now >= next_failure_) {
      next_failure_ = now + seconds_between(rng_, 120.0, 240.0);
      std::vector<SimulatedDevice*> candidates;
      for (auto& d : devices_) {
        if (d.status == DeviceStatus::online) candidates.push_back(&d);
      }
      if (!candidates.empty()) {
        auto& d = *candidates[std::uniform_int_distribution<std::size_t>(
            0, candidates.size() - 1)(rng_)];
        d.down_until = now + seconds_between(rng_, 20.0, 60.0);
        static constexpr std::array<const char*, 2> kOffline = {"Connection lost",
                                                                "Heartbeat timeout"};
        static constexpr std::array<const char*, 2> kError = {"Sensor fault",
                                                              "Too many read errors"};
        bool offline = chance(rng_, 0.6);
        const auto& reasons = offline ? kOffline : kError;
        std::string reason = reasons[std::uniform_int_distribution<std::size_t>(0, 1)(rng_)];
        status_change(d, offline ? DeviceStatus::offline : DeviceStatus::error, std::move(reason));
      }
    }
  }

  for (std::size_t i = 0; i < devices_.size(); ++i) {
    auto& d = devices_[i];
    if (d.status != DeviceStatus::online || !d.model) continue;
    model::TelemetryEvent tel;
    tel.device_id = d.id;
    tel.readings = d.model->sample(now, rng_);
    d.last_seen = now;

    for (const auto& r : tel.readings) {
      const Limits* lim = limits_for(r.name);
      if (lim == nullptr) continue;
      auto& states = alert_state_[i];
      auto it = std::find_if(states.begin(), states.end(),
                             [&](const auto& p) { return p.first == r.name; });
      if (it == states.end()) {
        states.emplace_back(r.name, AlertState{});
        it = states.end() - 1;
      }
      AlertState& st = it->second;

      bool high = false;
      int level = classify(*lim, r.value, high);
      int previous = st.level;
      st.level = level;
      st.in_range = level > 0;
      if (level <= previous) continue;  // no entry into a (worse) range
      bool cooled = st.alerted_level == 0 || now - st.last_alert >= kAlertCooldown;
      // Within the cooldown only an escalation beyond the last alert's severity is reported, so
      // a reading flapping around a threshold cannot flood subscribers.
      if (!cooled && level <= st.alerted_level) continue;
      st.last_alert = now;
      st.alerted_level = level;

      const bool critical = level == 2;
      double threshold = critical ? (high ? lim->crit_hi : lim->crit_lo)
                                  : (high ? lim->warn_hi : lim->warn_lo);
      model::AlertEvent a;
      a.alert_id = next_alert_id_++;
      a.device_id = d.id;
      a.severity = critical ? model::Severity::critical : model::Severity::warning;
      a.alert_type = model::AlertType::threshold;
      a.title = high ? lim->high_title : lim->low_title;
      a.message = r.name + " " + format_value(r.value) + (r.unit.empty() ? "" : " " + r.unit) +
                  (high ? " exceeds " : " is below ") + std::string(model::to_string(a.severity)) +
                  " threshold " + format_threshold(threshold);
      a.timestamp = now;
      a.metadata["threshold_value"] = threshold;
      a.metadata["actual_value"] = r.value;
      a.metadata["metric"] = r.name;
      alerts.emplace_back(std::move(a));
    }
    out.emplace_back(std::move(tel));
  }

  for (auto& a : alerts) out.push_back(std::move(a));
  return out;
}

}  // namespace valtronics::engine
