// The connection core: hub events to frames (claims, filters, projections, throttled telemetry,
// the system channel's frequency).
#include "session/connection.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

#include "auth/policy.hpp"
#include "config/limits.hpp"
#include "protocol/errors.hpp"

namespace valtronics::session {

using model::Channel;
namespace close_code = protocol::close_code;

void Connection::on_event(const hub::EventPtr& event, hub::ProjectionCache& cache) {
  if (state_ != State::open || !claims_) return;
  if (!spdlog::should_log(spdlog::level::debug)) {
    deliver(event, cache);
    return;
  }
  const std::size_t queued_before = out_.queued_bytes();
  deliver(event, cache);
  if (out_.queued_bytes() != queued_before) {
    static constexpr std::string_view kTypes[] = {"telemetry_update", "alert",
                                                  "device_status_update", "system_status_update"};
    log_out(kTypes[event->body.index()], out_.queued_bytes() - queued_before, event->channel);
  }
}

void Connection::deliver(const hub::EventPtr& event, hub::ProjectionCache& cache) {
  const auto* alert = std::get_if<model::AlertEvent>(&event->body);
  if (alert && alerts_) raise_to(ctx_.newest_alert_id, alert->alert_id);
  if (event->channel != Channel::system &&
      !auth::may_see_device(*claims_, model::device_of(event->body)))
    return;
  if (held_ && held(event->channel).active) {
    // A snapshot or replay of this channel is on its way: live events wait behind it.
    auto& h = held(event->channel);
    if (h.events.size() >= limits::kMaxHeldEvents) {
      close_slow_consumer("too many events while replaying: reconnect to resume");
      return;
    }
    h.events.push_back(event);
    return;
  }
  if (const auto* t = std::get_if<model::TelemetryEvent>(&event->body)) {
    deliver_telemetry(*event, *t, cache);
    return;
  }
  const protocol::Filters* match = match_event(subs_, *event);
  if (!match) return;
  if (const auto* sys = std::get_if<model::SystemEvent>(&event->body)) {
    deliver_system(*event, *sys, *match, cache);
    return;
  }
  if (alert) {
    if (alerts_) alerts_->note_sent(*alert, subs_);
    send_alert(event->full_bytes, match->ack.value_or(false));
    return;
  }
  send_update(event->full_bytes, event->channel);
}

void Connection::deliver_system(const hub::Event& event, const model::SystemEvent& sys,
                                const protocol::Filters& filters, hub::ProjectionCache& cache) {
  // Samples arrive every second; each connection takes one per its own `frequency`. Half a
  // second of slack keeps a 1 s frequency from skipping samples that arrive a little early.
  const auto now = ctx_.steady_now();
  if (now + std::chrono::milliseconds(500) < system_next_due_) return;
  system_next_due_ = now + filters.frequency;
  count_delivery(Channel::system);
  if (filters.metrics.empty()) {
    out_.push_system(event.full_bytes, next_seq(Channel::system));
  } else {
    const auto key = projection_key('s', filters.metrics);
    const Bytes* bytes = cache.find(key);
    if (!bytes)
      bytes = &cache.put(key, std::make_shared<const std::string>(
                                  protocol::serialize_system(sys, filters.metrics)));
    out_.push_system(*bytes, next_seq(Channel::system));
  }
  queued();
}

void Connection::deliver_telemetry(const hub::Event& event, const model::TelemetryEvent& t,
                                   hub::ProjectionCache& cache) {
  const auto plan = telemetry_plan(subs_, t.device_id);
  if (!plan.matched) return;
  if (watch_ && (plan.gated || plan.watched)) {
    deliver_watched_telemetry(event, t, plan, cache);
    return;
  }
  if (!plan.realtime) {
    const auto now = ctx_.steady_now();
    if (throttles_.hold(t.device_id, t.readings, plan, now))
      push_window(t.device_id, throttles_.take(t.device_id, now));
    arm_telemetry_timer();
    return;
  }
  push_telemetry_frame(event, t, t.readings, plan.metrics, cache);
}

void Connection::push_telemetry_frame(const hub::Event& event, const model::TelemetryEvent& t,
                                      std::span<const model::MetricReading> readings,
                                      std::span<const std::string> metrics,
                                      hub::ProjectionCache& cache) {
  if (metrics.empty()) {
    count_delivery(Channel::telemetry);
    out_.push_telemetry(event.full_bytes, t.device_id, t.readings,
                        next_seq(Channel::telemetry, event.merged), event.merged);
    queued();
    return;
  }
  // One serialization per metric set, shared by the connections of this thread that want it.
  const auto key = projection_key('t', metrics);
  const Bytes* bytes = cache.find(key);
  if (!bytes)
    bytes = &cache.put(key, std::make_shared<const std::string>(
                                protocol::serialize_telemetry(t.device_id, t.readings, metrics)));
  if ((*bytes)->empty()) return;  // none of the asked-for metrics is in this update
  std::vector<model::MetricReading> projected;
  for (const auto& r : readings)
    if (std::binary_search(metrics.begin(), metrics.end(), r.name)) projected.push_back(r);
  count_delivery(Channel::telemetry);
  out_.push_telemetry(*bytes, t.device_id, projected, next_seq(Channel::telemetry, event.merged),
                      event.merged);
  queued();
}

void Connection::deliver_watched_telemetry(const hub::Event& event,
                                           const model::TelemetryEvent& t,
                                           const TelemetryPlan& plan,
                                           hub::ProjectionCache& cache) {
  const auto now = ctx_.steady_now();
  // The readings this connection wants at all; their clocks restart, the stale ones resume.
  std::vector<model::MetricReading> wanted;
  for (const auto& r : t.readings)
    if (plan.metrics.empty() ||
        std::binary_search(plan.metrics.begin(), plan.metrics.end(), r.name))
      wanted.push_back(r);
  if (wanted.empty()) return;
  StaleWatch::Resumed resumed;
  if (plan.watched) resumed = watch_->stale.seen(subs_, t.device_id, wanted, now);
  if (!plan.realtime) {
    if (throttles_.hold(t.device_id, wanted, plan, now))
      push_window(t.device_id, throttles_.take(t.device_id, now));
  } else if (!plan.gated) {
    push_telemetry_frame(event, t, wanted, plan.metrics, cache);
  } else {
    auto passed = watch_->gates.pass(subs_, t.device_id, wanted, now, resumed.metrics,
                                     resumed.device);
    if (!passed.crossed.empty()) {
      // A crossing is an event, not a latest value: never conflated, like an alert.
      std::vector<std::pair<std::string, protocol::Direction>> crossed;
      for (auto& c : passed.crossed) crossed.emplace_back(std::move(c.metric), c.direction);
      send_update(std::make_shared<const std::string>(protocol::serialize_telemetry_crossed(
                      t.device_id, passed.readings, crossed)),
                  Channel::telemetry);
    } else if (!passed.readings.empty()) {
      std::vector<std::string> names;
      for (const auto& r : passed.readings) names.push_back(r.name);
      std::sort(names.begin(), names.end());
      names.erase(std::unique(names.begin(), names.end()), names.end());
      push_telemetry_frame(event, t, passed.readings, names, cache);
    }
  }
  arm_telemetry_timer();
}

void Connection::push_window(std::int64_t device, Throttles::Window window) {
  if (window.aggregate) {
    // Each window's aggregate is data of its own, not a latest value: never conflated.
    send_update(std::make_shared<const std::string>(protocol::serialize_telemetry_window(
                    device, window.readings, window.counts, *window.aggregate,
                    window.frequency)),
                Channel::telemetry);
    return;
  }
  // Per-connection JSON, but only for a client that asked for fewer updates.
  count_delivery(Channel::telemetry);
  out_.push_telemetry(
      std::make_shared<const std::string>(protocol::serialize_telemetry(device, window.readings)),
      device, window.readings, next_seq(Channel::telemetry));
  queued();
}

void Connection::on_telemetry_deadline(SteadyTime now) {
  for (auto& [device, window] : throttles_.take_due(now)) push_window(device, std::move(window));
  if (watch_) {
    for (auto& [device, held] : watch_->gates.take_due(now)) {
      // max_silence: the values a deadband held back, now that they waited long enough.
      count_delivery(Channel::telemetry);
      out_.push_telemetry(
          std::make_shared<const std::string>(protocol::serialize_telemetry(device, held)), device,
          held, next_seq(Channel::telemetry));
      queued();
    }
    const auto wall = ctx_.wall_now();
    for (const auto& st : watch_->stale.take_due(now)) {
      if (!auth::may_see_device(*claims_, st.device)) continue;
      send_update(std::make_shared<const std::string>(protocol::telemetry_stale(
                      st.device, st.metric, st.after, st.last_seen, wall)),
                  Channel::telemetry);
    }
  }
  arm_telemetry_timer();
}

void Connection::arm_telemetry_timer() {
  auto due = throttles_.next_due();
  if (watch_) due = std::min({due, watch_->gates.next_due(), watch_->stale.next_due()});
  set_timer(Timer::telemetry, state_ == State::open ? due : SteadyTime::max());
}

}  // namespace valtronics::session
