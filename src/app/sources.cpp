// System sampling and the demo simulator, ticking on I/O thread 0.
#include "app/sources.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include "config/limits.hpp"

namespace valtronics::app {

using boost::system::error_code;

PeriodicSources::PeriodicSources(boost::asio::io_context& ioc, hub::Hub& hub,
                                 engine::Engine& engine,
                                 const session::ConnectionRegistry& registry,
                                 auth::AbuseMonitor& abuse, bool demo)
    : hub_(hub),
      engine_(engine),
      registry_(registry),
      abuse_(abuse),
      system_timer_(ioc),
      demo_timer_(ioc) {
  if (demo) simulator_ = std::make_unique<engine::DemoSimulator>();
}

void PeriodicSources::start() {
  if (simulator_) engine_.seed_demo(static_cast<int>(simulator_->devices().size()));
  tick_system();
  if (simulator_) tick_demo();
}

void PeriodicSources::stop() {
  stopped_ = true;
  system_timer_.cancel();
  demo_timer_.cancel();
}

void PeriodicSources::tick_system() {
  if (stopped_) return;
  // Give freed heap pages back every 10 s: a burst of handshakes leaves freed memory scattered
  // through the heap, which glibc keeps mapped otherwise (the RSS would then report the burst,
  // not what is in use).
  if (++system_ticks_ % 10 == 0) malloc_trim(0);
  const auto a = abuse_.stats(std::chrono::steady_clock::now());
  engine::ServerFigures figures{registry_.active(),  registry_.unauthenticated(),
                                a.auth_failures,     a.bans,
                                a.banned_addresses,  a.banned_refusals,
                                a.limit_violations};
  auto update = sampler_.sample(figures, util::Clock::now());
  if (extra_figures_)
    for (auto& m : extra_figures_()) update.metrics.push_back(std::move(m));
  hub_.publish(std::move(update));
  system_timer_.expires_after(limits::kSystemSamplePeriod);
  system_timer_.async_wait([this](error_code ec) {
    if (!ec) tick_system();
  });
}

void PeriodicSources::tick_demo() {
  if (stopped_) return;
  // The simulator plays the devices: its telemetry and status reports go through the engine like
  // any device's (rules raise the alerts; its own alert suggestions are not used).
  std::vector<model::TelemetryEvent> telemetry;
  for (auto& body : simulator_->step(util::Clock::now())) {
    if (auto* t = std::get_if<model::TelemetryEvent>(&body)) {
      telemetry.push_back(std::move(*t));
    } else if (auto* st = std::get_if<model::DeviceStatusEvent>(&body)) {
      engine_.report_status(st->device_id, model::StatusReport{st->new_status, st->reason, {}},
                            [](const auto&) {});
    }
  }
  if (!telemetry.empty())
    engine_.ingest(std::move(telemetry), [](const auto& r) {
      if (!r) spdlog::warn("demo ingest: {}", r.error().message);
    });
  demo_timer_.expires_after(limits::kDemoTickPeriod);
  demo_timer_.async_wait([this](error_code ec) {
    if (!ec) tick_demo();
  });
}

}  // namespace valtronics::app
