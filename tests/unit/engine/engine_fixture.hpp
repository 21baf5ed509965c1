// The engine under test as the server runs it: a temporary SQLite file, a real hub::Hub with one
// shard over a local io_context that the test runs by hand, and the engine's own thread and
// writer. Replies are waited for through futures (with a generous deadline that only a hung
// engine reaches); settle() waits until everything queued so far is committed and published,
// so no test sleeps to be correct.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "auth/claims.hpp"
#include "config/config.hpp"
#include "engine/engine.hpp"
#include "hub/hub.hpp"
#include "hub/subscriber.hpp"
#include "model/enum_names.hpp"
#include "store/db.hpp"
#include "store/migrations.hpp"
#include "store/repositories.hpp"
#include "support/temp_db_file.hpp"

namespace valtronics::engine::test {

// Every event the hub hands to it, on every channel and device, in delivery order.
class Recorder : public hub::Subscriber {
 public:
  void on_event(const hub::EventPtr& event, hub::ProjectionCache&) override {
    events.push_back(event);
  }
  template <class Body>
  std::vector<Body> bodies() const {
    std::vector<Body> out;
    for (const auto& e : events)
      if (const auto* b = std::get_if<Body>(&e->body)) out.push_back(*b);
    return out;
  }
  std::uint64_t last_id() const { return events.empty() ? 0 : events.back()->id; }
  void clear() { events.clear(); }

  std::vector<hub::EventPtr> events;
};

inline auth::Claims admin() {
  auth::Claims c;
  c.sub = "admin";
  c.role = auth::Role::admin;
  return c;
}

inline auth::Claims user_of(std::vector<std::int64_t> devices) {
  auth::Claims c;
  c.sub = "user";
  c.role = auth::Role::user;
  c.devices = std::move(devices);
  return c;
}

inline model::TelemetryEvent reading(std::int64_t device, std::string metric, double value,
                                     util::TimePoint at = util::Clock::now()) {
  return model::TelemetryEvent{device, {{std::move(metric), value, "", at}}};
}

inline model::AlertRule rule(std::string metric, model::Condition c, double threshold,
                             model::Severity severity = model::Severity::warning) {
  model::AlertRule r;
  r.name = "rule on " + metric;
  r.metric = std::move(metric);
  r.condition = c;
  r.threshold = threshold;
  r.severity = severity;
  return r;
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    cfg.db = file.str();
    cfg.demo = true;
  }

  // Tests adjust `cfg` and may seed the database (db()) before this.
  void start_engine() {
    engine = std::make_unique<Engine>(cfg, hub);
    for (auto channel : model::all_values<model::Channel>())
      hub.shard(0).add(&recorder, channel, hub::kAllDevices);
    engine->start();
  }

  // Stops and destroys the engine (everything queued is committed), then starts a new one on
  // the same file: what survives is what the store holds.
  void restart_engine() {
    engine.reset();
    deliver();
    recorder.clear();
    start_engine();
  }

  // Calls `call(reply)` and waits for the reply.
  template <class T, class F>
  T ask(F&& call) {
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    call([promise](T value) { promise->set_value(std::move(value)); });
    if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready)
      throw std::runtime_error("the engine did not reply within 20 s");
    return future.get();
  }

  // Runs what the hub posted to its shard: delivers published events to `recorder`.
  void deliver() {
    hub_ioc.restart();
    hub_ioc.poll();
  }

  // Waits until the engine thread has run what was posted to it before the call.
  void engine_barrier() {
    ask<model::Result<std::vector<model::AlertRule>>>(
        [&](auto reply) { engine->list_rules(std::move(reply)); });
  }

  // Everything queued so far is committed and its events are delivered (including what commit
  // callbacks hand back to the engine thread, e.g. a critical alert's status change).
  void settle() {
    for (int round = 0; round < 3; ++round) {
      engine->flush();
      engine_barrier();
    }
    engine->flush();
    deliver();
  }

  // ---- shorthands for the engine's calls (each waits for its reply) ----
  model::Result<model::Device> create_device(std::int64_t id, std::string name,
                                             model::DeviceType type = model::DeviceType::sensor) {
    model::Device d;
    d.id = id;
    d.name = std::move(name);
    d.device_type = type;
    return ask<model::Result<model::Device>>(
        [&](auto reply) { engine->create_device(d, std::move(reply)); });
  }
  model::Result<model::Device> get_device(std::int64_t id, auth::Claims claims = admin()) {
    return ask<model::Result<model::Device>>(
        [&](auto reply) { engine->get_device(id, claims, std::move(reply)); });
  }
  model::Result<Page<model::Device>> list_devices(DeviceQuery q, auth::Claims claims = admin()) {
    return ask<model::Result<Page<model::Device>>>(
        [&](auto reply) { engine->list_devices(q, claims, std::move(reply)); });
  }
  model::Result<std::size_t> ingest(std::vector<model::TelemetryEvent> events) {
    return ask<model::Result<std::size_t>>(
        [&](auto reply) { engine->ingest(std::move(events), std::move(reply)); });
  }
  model::Result<model::AlertRule> create_rule(model::AlertRule r) {
    return ask<model::Result<model::AlertRule>>(
        [&](auto reply) { engine->create_rule(r, std::move(reply)); });
  }
  std::vector<model::AlertRule> list_rules() {
    return ask<model::Result<std::vector<model::AlertRule>>>(
               [&](auto reply) { engine->list_rules(std::move(reply)); })
        .value();
  }
  model::Result<Page<model::Alert>> list_alerts(store::AlertQuery q = {},
                                                auth::Claims claims = admin()) {
    return ask<model::Result<Page<model::Alert>>>(
        [&](auto reply) { engine->list_alerts(q, claims, std::move(reply)); });
  }
  model::Result<model::Alert> acknowledge(std::int64_t id, std::string who,
                                          std::string notes = {}) {
    return ask<model::Result<model::Alert>>([&](auto reply) {
      engine->acknowledge_alert(id, who, notes, std::move(reply));
    });
  }
  model::Result<model::Alert> resolve(std::int64_t id, std::string who, std::string notes = {}) {
    return ask<model::Result<model::Alert>>(
        [&](auto reply) { engine->resolve_alert(id, who, notes, std::move(reply)); });
  }
  model::AlertReplay replay(std::int64_t since_id, protocol::Filters filters = {},
                            auth::Claims claims = admin()) {
    return ask<model::AlertReplay>([&](auto reply) {
      engine->replay_alerts(since_id, filters, claims, std::move(reply));
    });
  }
  RetentionReport prune_now() {
    return ask<RetentionReport>([&](auto reply) { engine->prune_now(std::move(reply)); });
  }

  // A connection of the test's own to the engine's file (WAL: it reads what was committed).
  store::Database& db() {
    if (!db_) {
      db_ = std::make_unique<store::Database>(store::Database::open(file.str()));
      store::migrate(*db_);
    }
    return *db_;
  }
  std::int64_t count(const std::string& sql) {
    store::Statement st = db().prepare(sql);
    return st.step() ? st.column_int(0) : -1;
  }

  store::TempDbFile file;
  config::Config cfg;
  boost::asio::io_context hub_ioc;
  hub::Hub hub{{&hub_ioc}};
  Recorder recorder;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Engine> engine;  // last: destroyed first
};

}  // namespace valtronics::engine::test
