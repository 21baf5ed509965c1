// The engine's frame: opening and loading the store, the thread and its start and stop, the
// periodic tick, flush. What runs on the thread is in the files named in engine_impl.hpp.
#include <spdlog/spdlog.h>

#include <future>
#include <thread>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "config/limits.hpp"
#include "engine/engine_impl.hpp"
#include "store/migrations.hpp"
#include "util/thread_name.hpp"

namespace valtronics::engine {

namespace {

// ":memory:" is one database per connection, but the writer needs the reader's: SQLite's
// shared-cache URI gives both connections the same in-memory database. Sets `memory_uri`.
store::Database open_and_migrate(const std::string& path, std::string& memory_uri) {
  std::string p = path;
  if (path == ":memory:") {
    static std::atomic<int> counter{0};
    memory_uri = "file:valtronics_mem_" + std::to_string(::getpid()) + "_" +
                 std::to_string(counter++) + "?mode=memory&cache=shared";
    p = memory_uri;
  }
  auto db = store::Database::open(p);
  store::migrate(db);
  return db;
}

}  // namespace

Engine::Impl::Impl(const config::Config& c, hub::Hub& h)
    : cfg(c),
      hub(h),
      reader(open_and_migrate(c.db, memory_uri)),
      tracker(c.devices.offline_after, c.devices.critical_sets_warning),
      tick_timer(ioc),
      retention_timer(ioc),
      history_timer(ioc) {
  writer = std::make_unique<store::Writer>(memory_uri.empty() ? cfg.db : memory_uri);

  for (auto& d : store::load_devices(reader)) {
    tracker.track(d.id, d.status, d.last_seen);
    next_device_id = std::max(next_device_id, d.id + 1);
    devices.emplace(d.id, std::move(d));
  }
  auto rules = store::load_rules(reader);
  for (const auto& r : rules) next_rule_id = std::max(next_rule_id, r.id + 1);
  evaluator.set_rules(std::move(rules), util::Clock::now());
  for (auto& m : store::load_latest_metrics(reader)) {
    auto& slot = latest[m.device_id][m.metric];
    slot = std::move(m);
  }
  for (const auto& a : store::load_open_alerts(reader)) restore_open_alert(a);
  restore_rule_windows([](std::int64_t) { return true; });
  spdlog::info("store {}: {} devices, {} rules, {} open alerts", cfg.db, devices.size(),
               evaluator.rules().size(), open_rule_alerts.size() + open_offline_alerts.size());
}

void Engine::Impl::start() {
  tick();
  on_retention_timer();
}

void Engine::Impl::stop_timers() {
  stopping = true;  // also ends a retention pass at its next batch
  tick_timer.cancel();
  retention_timer.cancel();
  history_timer.cancel();  // what it waited for is written by Engine::stop
}

void Engine::Impl::tick() {
  const auto now = util::Clock::now();
  for (auto& t : tracker.check_offline(now)) apply_status_transition(t);
  apply_rule_decisions(evaluator.tick(now));
  tick_timer.expires_after(limits::kEngineTickPeriod);
  tick_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

Engine::Engine(const config::Config& cfg, hub::Hub& hub)
    : impl_(std::make_unique<Impl>(cfg, hub)) {}

Engine::~Engine() { stop(); }

void Engine::start() {
  if (impl_->thread.joinable()) return;
  impl_->guard.emplace(impl_->ioc.get_executor());
  impl_->call(&Impl::start);
  impl_->thread = std::thread([this] {
    util::name_this_thread("vt-engine");
    impl_->ioc.run();
  });
}

void Engine::stop() {
  if (!impl_) return;
  if (impl_->thread.joinable()) {
    impl_->call(&Impl::stop_timers);
    // Commit while the engine thread still runs: after-commit replies are posted to it.
    impl_->writer->flush();
    impl_->post([this] { impl_->guard.reset(); });
    impl_->thread.join();
    // Latest values gathered while their write was in flight (the next write would have been
    // queued by that write's callback, on the engine thread now ended), and history readings
    // waiting for their timer (cancelled).
    impl_->latest_write_in_flight = false;
    impl_->write_latest_values();
    impl_->write_history();
  }
  impl_->writer->flush();  // whatever the last handlers queued
}

void Engine::flush() {
  // History readings still gathering on the engine thread (telemetry.cpp, gather_history) are
  // handed to the writer first: "queued so far" includes them.
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) {
    auto handed = std::make_shared<std::promise<void>>();
    auto done = handed->get_future();
    impl_->post([this, handed] {
      impl_->write_history();
      handed->set_value();
    });
    // Bounded: an engine thread already past its last task (stopping) never runs it.
    done.wait_for(std::chrono::seconds(5));
  }
  impl_->writer->flush();
}

store::Writer::Health Engine::storage_health() const { return impl_->writer->health(); }
bool Engine::storage_available() const { return impl_->writer->available(); }
bool Engine::write_queue_full() const {
  return impl_->writer->full() ||
         impl_->history_backlog.load(std::memory_order_relaxed) >=
             impl_->cfg.telemetry.max_history_backlog;
}
std::string Engine::store_location() const {
  return impl_->memory_uri.empty() ? impl_->cfg.db : impl_->memory_uri;
}

}  // namespace valtronics::engine
