// The domain engine. Everything below runs on the engine thread except the writer callbacks
// (which only publish and post back). State: devices, latest values, rule evaluator, status
// tracker, open alerts. Persistence goes through the store's writer; alerts and status changes
// are published from the writer's commit callback, so what a client sees is already durable and
// arrives in commit (= alert id) order.
#include "engine/engine.hpp"
#include "config/limits.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "auth/policy.hpp"
#include "store/migrations.hpp"

namespace valtronics::engine {

namespace asio = boost::asio;
using model::Alert;
using model::AlertRule;
using model::AlertStatus;
using model::AlertType;
using model::Condition;
using model::Device;
using model::DeviceStatus;
using model::MetricValue;
using model::Severity;
using util::TimePoint;

namespace {


std::string_view condition_words(Condition c) {
  switch (c) {
    case Condition::gt: return "above";
    case Condition::gte: return "at or above";
    case Condition::lt: return "below";
    case Condition::lte: return "at or below";
    case Condition::eq: return "equal to";
    case Condition::ne: return "not equal to";
  }
  return "?";
}

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}


// Narrows a device filter to what `claims` may see. False: nothing is visible.
bool restrict_to_claims(std::vector<std::int64_t>& device_ids, const auth::Claims& claims) {
  if (auth::sees_every_device(claims)) return true;
  std::vector<std::int64_t> allowed;
  if (claims.role != auth::Role::device)
    for (auto d : claims.devices)
      if (model::empty_or_contains(device_ids, d)) allowed.push_back(d);
  device_ids = std::move(allowed);
  return !device_ids.empty();
}

std::string default_device_name(std::int64_t id) { return "Device " + std::to_string(id); }

}  // namespace

struct Engine::Impl {
  Impl(const config::Config& c, hub::Hub& h)
      : cfg(c),
        hub(h),
        reader(open_and_migrate(c.db)),
        tracker(c.devices.offline_after, c.devices.critical_sets_warning),
        tick_timer(ioc),
        prune_timer(ioc) {
    // ":memory:" is one database per connection: the writer must share the reader's. SQLite's
    // shared-cache URI gives both connections the same in-memory database.
    writer = std::make_unique<store::Writer>(writer_path());
    load();
  }

  // ---- set-up ----
  std::string memory_uri;
  std::string writer_path() const { return memory_uri.empty() ? cfg.db : memory_uri; }

  store::Database open_and_migrate(const std::string& path) {
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

  void load() {
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
    for (auto& a : store::load_open_alerts(reader)) {
      auto p = std::make_shared<OpenAlert>(OpenAlert{a, std::make_shared<std::atomic<std::int64_t>>(a.id)});
      if (a.rule_id) {
        evaluator.restore_firing(*a.rule_id, a.device_id, a.timestamp);
        open_by_rule[{*a.rule_id, a.device_id}] = p;
      } else if (a.alert_type == AlertType::device) {
        open_offline[a.device_id] = p;
      }
      if (a.severity == Severity::critical) tracker.restore_critical(a.device_id, a.id);
    }
    spdlog::info("store {}: {} devices, {} rules, {} open alerts", cfg.db, devices.size(),
                 evaluator.rules().size(), open_by_rule.size() + open_offline.size());
  }

  // ---- threading ----
  template <class F>
  void run(F&& f) {
    asio::post(ioc, std::forward<F>(f));
  }

  // Reply on the engine thread once the writes queued so far are committed.
  template <class T>
  void reply_after_commit(Reply<T> reply, T value) {
    writer->submit([](store::Database&) {},
                   [this, reply = std::move(reply), value = std::move(value)](bool) mutable {
                     run([reply = std::move(reply), value = std::move(value)]() mutable {
                       reply(std::move(value));
                     });
                   });
  }

  // ---- alerts ----
  struct OpenAlert {
    Alert alert;                                        // engine thread's copy
    std::shared_ptr<std::atomic<std::int64_t>> id;      // set by the writer once inserted
  };
  using OpenPtr = std::shared_ptr<OpenAlert>;

  // Inserts the alert, then (after commit) publishes it and tells the status tracker.
  OpenPtr raise(Alert a) {
    auto open = std::make_shared<OpenAlert>(OpenAlert{a, std::make_shared<std::atomic<std::int64_t>>(0)});
    writer->submit(
        [a, id = open->id](store::Database& db) { id->store(store::insert_alert(db, a)); },
        [this, a, id = open->id](bool ok) mutable {
          if (!ok) return;
          a.id = id->load();
          hub.publish(model::to_alert_event(a));
          run([this, a] {
            if (a.severity == Severity::critical) apply(tracker.on_critical_alert(a.device_id, a.id, util::Clock::now()));
          });
        });
    return open;
  }

  // Stores a state change of an alert (ack/resolve), then publishes it; `done` gets the record.
  void store_state(const std::shared_ptr<std::atomic<std::int64_t>>& id, Alert a,
                   std::function<void(Alert)> done = {}) {
    writer->submit(
        [a, id](store::Database& db) mutable {
          a.id = id->load();
          store::update_alert_state(db, a);
        },
        [this, a, id, done = std::move(done)](bool ok) mutable {
          if (!ok) return;
          a.id = id->load();
          hub.publish(model::to_alert_event(a));
          run([this, a, done = std::move(done)] {
            if (a.status == AlertStatus::resolved && a.severity == Severity::critical)
              apply(tracker.on_critical_resolved(a.device_id, a.id, util::Clock::now()));
            if (done) done(a);
          });
        });
  }

  void resolve_open(const OpenPtr& open, const std::string& who, const std::string& notes,
                    TimePoint at) {
    open->alert.status = AlertStatus::resolved;
    open->alert.resolved_at = at;
    open->alert.resolved_by = who;
    if (!notes.empty()) open->alert.notes = notes;
    store_state(open->id, open->alert);
  }

  void on_decisions(const std::vector<RuleDecision>& decisions) {
    for (const auto& d : decisions) {
      const std::pair key{d.rule.id, d.device_id};
      if (d.kind == RuleDecision::Kind::fire) {
        if (open_by_rule.count(key)) continue;  // still open from an earlier episode
        Alert a;
        a.device_id = d.device_id;
        a.severity = d.rule.severity;
        a.alert_type = d.rule.alert_type;
        a.title = d.rule.name;
        const auto unit = unit_of(d.device_id, d.rule.metric);
        a.message = d.rule.metric + " is " + format_number(d.value) + (unit.empty() ? "" : " " + unit) +
                    ", " + std::string(condition_words(d.rule.condition)) + " threshold " +
                    format_number(d.rule.threshold);
        a.timestamp = d.at;
        a.rule_id = d.rule.id;
        a.metadata = {{"threshold_value", d.rule.threshold},
                      {"actual_value", d.value},
                      {"metric", d.rule.metric},
                      {"rule_id", d.rule.id},
                      {"condition", model::to_string(d.rule.condition)}};
        open_by_rule[key] = raise(std::move(a));
      } else if (auto it = open_by_rule.find(key); it != open_by_rule.end()) {
        it->second->alert.metadata["resolved_value"] = d.value;
        resolve_open(it->second, "system", "", d.at);
        open_by_rule.erase(it);
      }
    }
  }

  std::string unit_of(std::int64_t device, const std::string& metric) const {
    auto d = latest.find(device);
    if (d == latest.end()) return {};
    auto m = d->second.find(metric);
    return m == d->second.end() ? std::string{} : m->second.unit;
  }

  // ---- device status ----
  void apply(const std::optional<StatusTransition>& t) {
    if (!t) return;
    const auto& c = t->change;
    auto it = devices.find(c.device_id);
    if (it == devices.end()) return;
    it->second.status = c.new_status;
    it->second.updated_at = c.timestamp;
    writer->submit([c, last_seen = t->last_seen](store::Database& db) {
      store::update_device_status(db, c.device_id, c.new_status, last_seen, c.timestamp);
      store::insert_status_change(db, c);
    });
    // Published from here, in the order of the state changes, so that a status snapshot (read on
    // this thread) and the transitions around it never contradict each other.
    model::DeviceStatusEvent e;
    e.device_id = c.device_id;
    e.old_status = c.old_status;
    e.new_status = c.new_status;
    e.reason = c.reason;
    e.timestamp = c.timestamp;
    e.last_seen = t->last_seen;
    hub.publish(std::move(e));
    if (!cfg.devices.offline_alert) return;
    if (c.new_status == DeviceStatus::offline && !open_offline.count(c.device_id)) {
      Alert a;
      a.device_id = c.device_id;
      a.severity = Severity::warning;
      a.alert_type = AlertType::device;
      a.title = "Device Offline";
      a.message = it->second.name + ": " + c.reason;
      a.timestamp = c.timestamp;
      if (t->last_seen) a.metadata["last_seen"] = util::iso8601(*t->last_seen);
      a.metadata["reason"] = c.reason;
      open_offline[c.device_id] = raise(std::move(a));
    } else if (c.old_status == DeviceStatus::offline && c.new_status != DeviceStatus::offline) {
      if (auto o = open_offline.find(c.device_id); o != open_offline.end()) {
        resolve_open(o->second, "system", "", c.timestamp);
        open_offline.erase(o);
      }
    }
  }

  // ---- ingest ----
  model::Result<std::size_t> ingest(std::vector<model::TelemetryEvent>& events) {
    // All or nothing: refuse before applying anything.
    if (!cfg.ingest.auto_register) {
      for (const auto& e : events) {
        if (!devices.count(e.device_id)) {
          return model::DomainError{model::DomainError::Kind::device_not_found,
                                    "device " + std::to_string(e.device_id) + " is not registered",
                                    {}, boost::json::object{{"device_id", e.device_id}}};
        }
      }
    }
    const auto now = util::Clock::now();
    std::size_t readings = 0;
    std::vector<MetricValue> values;
    std::set<std::int64_t> touched;
    std::vector<model::EventBody> updates;  // published together: one write per subscriber
    updates.reserve(events.size());
    for (auto& e : events) {
      auto dev = devices.find(e.device_id);
      if (dev == devices.end()) dev = register_device(e.device_id, now);
      dev->second.last_seen = now;
      touched.insert(e.device_id);
      apply(tracker.on_telemetry(e.device_id, now));
      auto& slots = latest[e.device_id];
      for (const auto& r : e.readings) {
        MetricValue v{e.device_id, r.name, r.value, r.unit, r.timestamp};
        slots[r.name] = v;
        values.push_back(std::move(v));
        on_decisions(evaluator.on_reading(e.device_id, dev->second.device_type, r.name, r.value,
                                          r.timestamp));
      }
      readings += e.readings.size();
      updates.emplace_back(std::move(e));
    }
    hub.publish_many(std::move(updates));
    if (cfg.telemetry.retention.count() > 0)
      writer->submit([values](store::Database& db) { store::append_history(db, values); });
    for (auto& v : values) dirty_latest[{v.device_id, v.metric}] = std::move(v);
    for (auto id : touched) dirty_seen[id] = now;
    persist_latest();
    return model::Result<std::size_t>(boost::system::in_place_value, readings);
  }

  // Latest values and last_seen are coalesced: at most one write of them is in flight, carrying
  // everything that changed since the previous one. However fast readings come and however slow
  // the disk, what waits to be written is bounded by the number of (device, metric) pairs.
  void persist_latest() {
    if (latest_write_in_flight || (dirty_latest.empty() && dirty_seen.empty())) return;
    latest_write_in_flight = true;
    std::vector<MetricValue> values;
    values.reserve(dirty_latest.size());
    for (auto& [k, v] : dirty_latest) values.push_back(std::move(v));
    dirty_latest.clear();
    writer->submit(
        [values = std::move(values), seen = std::move(dirty_seen)](store::Database& db) {
          store::upsert_latest_metrics(db, values);
          for (const auto& [id, at] : seen) store::update_device_last_seen(db, id, at);
        },
        [this](bool) {
          run([this] {
            latest_write_in_flight = false;
            persist_latest();
          });
        });
    dirty_seen.clear();
  }

  std::map<std::int64_t, Device>::iterator register_device(std::int64_t id, TimePoint now) {
    Device d;
    d.id = id;
    d.name = default_device_name(id);
    d.status = DeviceStatus::offline;
    d.created_at = d.updated_at = now;
    d.metadata["auto_registered"] = true;
    next_device_id = std::max(next_device_id, id + 1);
    writer->submit([d](store::Database& db) { store::insert_device(db, d); });
    tracker.track(id, d.status, std::nullopt);
    spdlog::info("device {} registered by its first telemetry", id);
    return devices.emplace(id, std::move(d)).first;
  }

  // ---- timers ----
  void tick() {
    const auto now = util::Clock::now();
    for (auto& t : tracker.check_offline(now)) apply(t);
    on_decisions(evaluator.tick(now));
    tick_timer.expires_after(limits::kEngineTickPeriod);
    tick_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) tick();
    });
  }

  void prune() {
    if (cfg.telemetry.retention.count() > 0) {
      const auto before = util::Clock::now() - cfg.telemetry.retention;
      writer->submit([before](store::Database& db) { store::prune_history(db, before); });
    }
    prune_timer.expires_after(limits::kRetentionPeriod);
    prune_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) prune();
    });
  }

  // Acknowledge or resolve: load, check the transition, apply, store, publish, reply.
  void change_alert(std::int64_t id, AlertStatus to, std::string who, std::string notes,
                    Reply<model::Result<Alert>> reply) {
    auto& I = *this;
  // An open alert lives in memory (its id may not be stored yet); any other is read back.
  OpenPtr open;
  for (auto& [k, o] : I.open_by_rule)
    if (o->id->load() == id) open = o;
  for (auto& [k, o] : I.open_offline)
    if (o->id->load() == id) open = o;
  Alert a;
  if (open) {
    a = open->alert;
    a.id = id;
  } else if (auto stored = store::get_alert(I.reader, id)) {
    a = std::move(*stored);
  } else {
    return reply(model::not_found("alert", id));
  }
  if (model::rank(a.status) >= model::rank(to)) {
    const std::string now_status(model::to_string(a.status));
    return reply(model::DomainError{model::DomainError::Kind::invalid_state,
                                    "alert " + std::to_string(id) + " is already " + now_status,
                                    {}, boost::json::object{{"status", now_status}}});
  }
  const auto now = util::Clock::now();
  a.status = to;
  if (to == AlertStatus::acknowledged) {
    a.acknowledged_at = now;
    a.acknowledged_by = who;
  } else {
    a.resolved_at = now;
    a.resolved_by = who;
  }
  if (!notes.empty()) a.notes = notes;
  auto id_cell = open ? open->id : std::make_shared<std::atomic<std::int64_t>>(id);
  if (open) {
    open->alert = a;
    if (to == AlertStatus::resolved) {
      // A manually resolved alert closes its episode: the rule fires again only after the
      // condition clears and holds anew.
      std::erase_if(I.open_by_rule, [&](const auto& kv) { return kv.second == open; });
      std::erase_if(I.open_offline, [&](const auto& kv) { return kv.second == open; });
    }
  }
  I.store_state(id_cell, a, [reply = std::move(reply)](Alert stored) { reply(std::move(stored)); });
}

  bool visible(const auth::Claims& c, std::int64_t device) const {
    return auth::may_see_device(c, device);
  }

  const config::Config& cfg;
  hub::Hub& hub;
  store::Database reader;
  std::unique_ptr<store::Writer> writer;
  RuleEvaluator evaluator;
  DeviceStatusTracker tracker;
  std::map<std::int64_t, Device> devices;
  std::map<std::int64_t, std::map<std::string, MetricValue>> latest;
  std::map<std::pair<std::int64_t, std::int64_t>, OpenPtr> open_by_rule;  // (rule, device)
  std::map<std::int64_t, OpenPtr> open_offline;                          // device alerts
  std::int64_t next_device_id = 1, next_rule_id = 1;
  std::map<std::pair<std::int64_t, std::string>, MetricValue> dirty_latest;
  std::map<std::int64_t, TimePoint> dirty_seen;
  bool latest_write_in_flight = false;

  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  asio::steady_timer tick_timer, prune_timer;
};

Engine::Engine(const config::Config& cfg, hub::Hub& hub)
    : impl_(std::make_unique<Impl>(cfg, hub)) {}

Engine::~Engine() { stop(); }

void Engine::start() {
  if (impl_->thread.joinable()) return;
  impl_->guard.emplace(impl_->ioc.get_executor());
  impl_->run([this] {
    impl_->tick();
    impl_->prune();
  });
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

void Engine::stop() {
  if (!impl_) return;
  if (impl_->thread.joinable()) {
    impl_->run([this] {
      impl_->tick_timer.cancel();
      impl_->prune_timer.cancel();
    });
    // Commit while the engine thread still runs: after-commit replies are posted to it.
    impl_->writer->flush();
    impl_->run([this] { impl_->guard.reset(); });
    impl_->thread.join();
  }
  impl_->writer->flush();  // whatever the last handlers queued
}

void Engine::flush() { impl_->writer->flush(); }

// ---------------------------------------------------------------------------------- ingest

void Engine::ingest(std::vector<model::TelemetryEvent> events,
                    Reply<model::Result<std::size_t>> reply) {
  impl_->run([this, events = std::move(events), reply = std::move(reply)]() mutable {
    reply(impl_->ingest(events));
  });
}

// --------------------------------------------------------------------------------- devices

void Engine::list_devices(DeviceQuery q, auth::Claims claims,
                          Reply<model::Result<Page<Device>>> reply) {
  impl_->run([this, q, claims = std::move(claims), reply = std::move(reply)] {
    Page<Device> page;
    std::size_t index = 0;
    const std::size_t first = (q.page - 1) * q.size;
    for (const auto& [id, d] : impl_->devices) {
      if (!impl_->visible(claims, id)) continue;
      if (q.status && d.status != *q.status) continue;
      if (q.device_type && d.device_type != *q.device_type) continue;
      if (index >= first && page.items.size() < q.size) page.items.push_back(d);
      ++index;
    }
    page.total = index;
    reply(std::move(page));
  });
}

void Engine::get_device(std::int64_t id, auth::Claims claims, Reply<model::Result<Device>> reply) {
  impl_->run([this, id, claims = std::move(claims), reply = std::move(reply)] {
    auto it = impl_->devices.find(id);
    // A device the token does not cover is reported as absent: its existence is not disclosed.
    if (it == impl_->devices.end() || !impl_->visible(claims, id))
      return reply(model::not_found("device", id));
    reply(it->second);
  });
}

void Engine::create_device(Device d, Reply<model::Result<Device>> reply) {
  impl_->run([this, d = std::move(d), reply = std::move(reply)]() mutable {
    auto& I = *impl_;
    if (d.id != 0 && I.devices.count(d.id)) {
      return reply(model::DomainError{model::DomainError::Kind::conflict,
                                      "device " + std::to_string(d.id) + " already exists", "id",
                                      {}});
    }
    if (d.id == 0) d.id = I.next_device_id;
    I.next_device_id = std::max(I.next_device_id, d.id + 1);
    const auto now = util::Clock::now();
    d.created_at = d.updated_at = now;
    I.devices[d.id] = d;
    I.tracker.track(d.id, d.status, d.last_seen);
    I.writer->submit([d](store::Database& db) { store::insert_device(db, d); });
    I.reply_after_commit<model::Result<Device>>(std::move(reply), d);
  });
}

void Engine::update_device(std::int64_t id, std::function<model::Result<void>(Device&)> patch,
                           Reply<model::Result<Device>> reply) {
  impl_->run([this, id, patch = std::move(patch), reply = std::move(reply)]() mutable {
    auto& I = *impl_;
    auto it = I.devices.find(id);
    if (it == I.devices.end()) return reply(model::not_found("device", id));
    Device updated = it->second;
    if (auto r = patch(updated); !r) return reply(r.error());
    updated.id = id;
    updated.updated_at = util::Clock::now();
    it->second = updated;
    I.writer->submit([updated](store::Database& db) { store::update_device(db, updated); });
    I.reply_after_commit<model::Result<Device>>(std::move(reply), updated);
  });
}

void Engine::delete_device(std::int64_t id, Reply<model::Result<Device>> reply) {
  impl_->run([this, id, reply = std::move(reply)]() mutable {
    auto& I = *impl_;
    auto it = I.devices.find(id);
    if (it == I.devices.end()) return reply(model::not_found("device", id));
    Device gone = std::move(it->second);
    I.devices.erase(it);
    I.tracker.forget(id);
    I.evaluator.forget_device(id);
    I.latest.erase(id);
    std::erase_if(I.dirty_latest, [id](const auto& kv) { return kv.first.first == id; });
    I.dirty_seen.erase(id);
    // Its open alerts resolve: nothing will ever clear them otherwise.
    const auto now = util::Clock::now();
    for (auto o = I.open_by_rule.begin(); o != I.open_by_rule.end();) {
      if (o->first.second == id) {
        I.resolve_open(o->second, "system", "device deleted", now);
        o = I.open_by_rule.erase(o);
      } else {
        ++o;
      }
    }
    if (auto o = I.open_offline.find(id); o != I.open_offline.end()) {
      I.resolve_open(o->second, "system", "device deleted", now);
      I.open_offline.erase(o);
    }
    I.writer->submit([id](store::Database& db) { store::delete_device(db, id); });
    I.reply_after_commit<model::Result<Device>>(std::move(reply), gone);
  });
}

void Engine::report_status(std::int64_t id, model::StatusReport report,
                           Reply<model::Result<Device>> reply) {
  impl_->run([this, id, report = std::move(report), reply = std::move(reply)]() mutable {
    auto& I = *impl_;
    auto it = I.devices.find(id);
    if (it == I.devices.end()) return reply(model::not_found("device", id));
    const auto now = util::Clock::now();
    auto t = I.tracker.on_report(id, report.status, report.reason, now);
    if (t && !report.metadata.empty()) {
      for (const auto& [k, v] : report.metadata) it->second.metadata[k] = v;
      I.writer->submit([d = it->second](store::Database& db) { store::update_device(db, d); });
    }
    I.apply(t);
    I.reply_after_commit<model::Result<Device>>(std::move(reply), it->second);
  });
}

void Engine::latest_telemetry(std::int64_t id, auth::Claims claims,
                              Reply<model::Result<std::vector<MetricValue>>> reply) {
  impl_->run([this, id, claims = std::move(claims), reply = std::move(reply)] {
    auto& I = *impl_;
    if (!I.devices.count(id) || !I.visible(claims, id))
      return reply(model::not_found("device", id));
    std::vector<MetricValue> out;
    if (auto d = I.latest.find(id); d != I.latest.end())
      for (const auto& [name, v] : d->second) out.push_back(v);
    reply(std::move(out));
  });
}

// ----------------------------------------------------------------------------------- rules

void Engine::list_rules(Reply<model::Result<std::vector<AlertRule>>> reply) {
  impl_->run([this, reply = std::move(reply)] { reply(impl_->evaluator.rules()); });
}

void Engine::get_rule(std::int64_t id, Reply<model::Result<AlertRule>> reply) {
  impl_->run([this, id, reply = std::move(reply)] {
    for (const auto& r : impl_->evaluator.rules())
      if (r.id == id) return reply(r);
    reply(model::not_found("alert rule", id));
  });
}

void Engine::create_rule(AlertRule r, Reply<model::Result<AlertRule>> reply) {
  impl_->run([this, r = std::move(r), reply = std::move(reply)]() mutable {
    auto& I = *impl_;
    r.id = I.next_rule_id++;
    r.created_at = r.updated_at = util::Clock::now();
    auto rules = I.evaluator.rules();
    rules.push_back(r);
    I.on_decisions(I.evaluator.set_rules(std::move(rules), r.created_at));
    I.writer->submit([r](store::Database& db) { store::insert_rule(db, r); });
    I.reply_after_commit<model::Result<AlertRule>>(std::move(reply), r);
  });
}

void Engine::update_rule(std::int64_t id, std::function<model::Result<void>(AlertRule&)> patch,
                         Reply<model::Result<AlertRule>> reply) {
  impl_->run([this, id, patch = std::move(patch), reply = std::move(reply)]() mutable {
    auto& I = *impl_;
    auto rules = I.evaluator.rules();
    auto it = std::find_if(rules.begin(), rules.end(), [&](const AlertRule& r) { return r.id == id; });
    if (it == rules.end()) return reply(model::not_found("alert rule", id));
    AlertRule updated = *it;
    if (auto r = patch(updated); !r) return reply(r.error());
    updated.id = id;
    updated.updated_at = util::Clock::now();
    *it = updated;
    I.on_decisions(I.evaluator.set_rules(std::move(rules), updated.updated_at));
    I.writer->submit([updated](store::Database& db) { store::update_rule(db, updated); });
    I.reply_after_commit<model::Result<AlertRule>>(std::move(reply), updated);
  });
}

void Engine::delete_rule(std::int64_t id, Reply<model::Result<AlertRule>> reply) {
  impl_->run([this, id, reply = std::move(reply)]() mutable {
    auto& I = *impl_;
    auto rules = I.evaluator.rules();
    auto it = std::find_if(rules.begin(), rules.end(), [&](const AlertRule& r) { return r.id == id; });
    if (it == rules.end()) return reply(model::not_found("alert rule", id));
    AlertRule gone = *it;
    rules.erase(it);
    I.on_decisions(I.evaluator.set_rules(std::move(rules), util::Clock::now()));
    I.writer->submit([id](store::Database& db) { store::delete_rule(db, id); });
    I.reply_after_commit<model::Result<AlertRule>>(std::move(reply), gone);
  });
}

// ---------------------------------------------------------------------------------- alerts

void Engine::list_alerts(store::AlertQuery q, auth::Claims claims,
                         Reply<model::Result<Page<Alert>>> reply) {
  impl_->run([this, q = std::move(q), claims = std::move(claims), reply = std::move(reply)]() mutable {
    auto& I = *impl_;
    if (!restrict_to_claims(q.device_ids, claims)) return reply(Page<Alert>{});
    try {
      Page<Alert> page;
      page.total = static_cast<std::size_t>(store::count_alerts(I.reader, q));
      page.items = store::list_alerts(I.reader, q);
      reply(std::move(page));
    } catch (const store::StoreError& e) {
      spdlog::error("list alerts: {}", e.what());
      reply(model::DomainError{model::DomainError::Kind::internal, "could not read alerts", {},
                               {}});
    }
  });
}

void Engine::get_alert(std::int64_t id, auth::Claims claims, Reply<model::Result<Alert>> reply) {
  impl_->run([this, id, claims = std::move(claims), reply = std::move(reply)] {
    auto a = store::get_alert(impl_->reader, id);
    if (!a || !impl_->visible(claims, a->device_id)) return reply(model::not_found("alert", id));
    reply(std::move(*a));
  });
}

void Engine::acknowledge_alert(std::int64_t id, std::string who, std::string notes,
                               Reply<model::Result<Alert>> reply) {
  impl_->run([this, id, who = std::move(who), notes = std::move(notes), reply = std::move(reply)]() mutable {
    impl_->change_alert(id, AlertStatus::acknowledged, std::move(who), std::move(notes), std::move(reply));
  });
}

void Engine::resolve_alert(std::int64_t id, std::string who, std::string notes,
                           Reply<model::Result<Alert>> reply) {
  impl_->run([this, id, who = std::move(who), notes = std::move(notes), reply = std::move(reply)]() mutable {
    impl_->change_alert(id, AlertStatus::resolved, std::move(who), std::move(notes), std::move(reply));
  });
}

// ------------------------------------------------------------------------- session support

void Engine::replay_alerts(std::int64_t since_id, protocol::Filters filters, auth::Claims claims,
                           Reply<model::AlertReplay> reply) {
  impl_->run([this, since_id, filters = std::move(filters), claims = std::move(claims),
              reply = std::move(reply)] {
    auto& I = *impl_;
    model::AlertReplay out;
    store::AlertQuery q;
    q.since_id = since_id;
    q.severities = filters.severities;
    q.alert_types = filters.alert_types;
    q.device_ids = filters.device_ids;
    if (!restrict_to_claims(q.device_ids, claims)) return reply(std::move(out));
    try {
      const auto limit = I.cfg.alerts.replay_max_alerts;
      const auto total = static_cast<std::size_t>(store::count_alerts(I.reader, q));
      // Beyond the limit, send the newest `limit` and say history is incomplete.
      if (total > limit) {
        q.offset = total - limit;
        out.complete = false;
      }
      q.limit = limit;
      out.alerts = store::list_alerts(I.reader, q);
      const auto oldest_allowed = util::Clock::now() - I.cfg.alerts.replay_max_age;
      const auto before = out.alerts.size();
      std::erase_if(out.alerts, [&](const Alert& a) { return a.timestamp < oldest_allowed; });
      if (out.alerts.size() != before) out.complete = false;
      out.oldest_available = store::min_alert_id(I.reader);
      // Alerts after since_id that were pruned from the store cannot be replayed.
      if (out.oldest_available > since_id + 1 && store::max_alert_id(I.reader) > since_id)
        out.complete = false;
    } catch (const store::StoreError& e) {
      spdlog::error("replay alerts: {}", e.what());
      out.alerts.clear();
      out.complete = false;
    }
    // Alerts are published from the writer's commit callbacks, in order: once this no-op's
    // callback runs, every alert the query could see has been published (and posted to the
    // subscriber's thread ahead of this reply).
    I.writer->submit([](store::Database&) {},
                     [reply = std::move(reply), out = std::move(out)](bool) mutable {
                       reply(std::move(out));
                     });
  });
}

void Engine::telemetry_snapshot(protocol::Filters filters, auth::Claims claims,
                                Reply<model::Snapshot<model::TelemetryEvent>> reply) {
  impl_->run([this, filters = std::move(filters), claims = std::move(claims), reply = std::move(reply)] {
    model::Snapshot<model::TelemetryEvent> snap;
    snap.as_of = impl_->hub.published();
    auto& out = snap.items;
    for (const auto& [device, metrics] : impl_->latest) {
      if (!model::empty_or_contains(filters.device_ids, device) || !impl_->visible(claims, device))
        continue;
      model::TelemetryEvent e{device, {}};
      for (const auto& [name, v] : metrics) {
        if (!filters.metrics.empty() &&
            !std::binary_search(filters.metrics.begin(), filters.metrics.end(), name))
          continue;
        e.readings.push_back({name, v.value, v.unit, v.timestamp});
      }
      if (!e.readings.empty()) out.push_back(std::move(e));
    }
    reply(std::move(snap));
  });
}

void Engine::status_snapshot(protocol::Filters filters, auth::Claims claims,
                             Reply<model::Snapshot<model::DeviceStatusEvent>> reply) {
  impl_->run([this, filters = std::move(filters), claims = std::move(claims), reply = std::move(reply)] {
    model::Snapshot<model::DeviceStatusEvent> snap;
    snap.as_of = impl_->hub.published();
    auto& out = snap.items;
    const auto now = util::Clock::now();
    for (const auto& [id, d] : impl_->devices) {
      if (!model::empty_or_contains(filters.device_ids, id) || !impl_->visible(claims, id))
        continue;
      if (!model::empty_or_contains(filters.status_types, d.status)) continue;
      model::DeviceStatusEvent e;
      e.device_id = id;
      e.old_status = e.new_status = d.status;
      e.reason = "snapshot";
      e.timestamp = now;
      e.last_seen = d.last_seen;
      out.push_back(std::move(e));
    }
    reply(std::move(snap));
  });
}

// ------------------------------------------------------------------------------------ demo

void Engine::seed_demo(int devices) {
  impl_->run([this, devices] {
    auto& I = *impl_;
    const auto now = util::Clock::now();
    static const char* kNames[] = {"Temperature Sensor", "Humidity Sensor", "Pressure Sensor",
                                   "Air Quality Monitor", "Vibration Sensor"};
    int per_type[5] = {};
    for (int i = 1; i <= devices; ++i) {
      if (I.devices.count(i)) continue;
      Device d;
      d.id = i;
      d.name = std::string(kNames[(i - 1) % 5]) + " " + std::to_string(++per_type[(i - 1) % 5]);
      d.device_type = (i - 1) % 5 == 3 ? model::DeviceType::monitor : model::DeviceType::sensor;
      d.location = "Demo site";
      d.manufacturer = "Valtronics";
      d.model = "SIM-" + std::to_string((i - 1) % 5 + 1);
      d.firmware_version = "1.0.0";
      d.created_at = d.updated_at = now;
      I.devices[i] = d;
      I.tracker.track(i, d.status, std::nullopt);
      I.next_device_id = std::max(I.next_device_id, std::int64_t{i} + 1);
      I.writer->submit([d](store::Database& db) { store::insert_device(db, d); });
    }
    if (!I.evaluator.rules().empty()) return;
    struct Seed { const char* name; const char* metric; Condition c; double t; Severity sev; };
    // The simulator's warning and critical ranges (engine/simulator.cpp), as rules.
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
    auto rules = I.evaluator.rules();
    for (const auto& s : kSeeds) {
      AlertRule r;
      r.id = I.next_rule_id++;
      r.name = s.name;
      r.metric = s.metric;
      r.condition = s.c;
      r.threshold = s.t;
      r.severity = s.sev;
      r.cooldown = std::chrono::seconds(60);
      r.created_at = r.updated_at = now;
      rules.push_back(r);
      I.writer->submit([r](store::Database& db) { store::insert_rule(db, r); });
    }
    I.on_decisions(I.evaluator.set_rules(std::move(rules), now));
  });
}

}  // namespace valtronics::engine
