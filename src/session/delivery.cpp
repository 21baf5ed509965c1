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
  if (alert && alerts_) alerts_->note_sent(*alert, subs_);
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
  if (!plan.realtime) {
    const auto now = ctx_.steady_now();
    if (throttles_.hold(t.device_id, t.readings, plan, now)) {
      // The device's slot is open: its latest values leave now. Per-connection JSON, but only
      // for a client that asked for fewer updates.
      auto latest = throttles_.take(t.device_id, now);
      count_delivery(Channel::telemetry);
      out_.push_telemetry(
          std::make_shared<const std::string>(protocol::serialize_telemetry(t.device_id, latest)),
          t.device_id, latest, next_seq(Channel::telemetry));
      queued();
    }
    set_timer(Timer::throttle, throttles_.next_due());
    return;
  }
  if (plan.metrics.empty()) {
    count_delivery(Channel::telemetry);
    out_.push_telemetry(event.full_bytes, t.device_id, t.readings,
                        next_seq(Channel::telemetry, event.merged), event.merged);
    queued();
    return;
  }
  const auto key = projection_key('t', plan.metrics);
  const Bytes* bytes = cache.find(key);
  if (!bytes)
    bytes = &cache.put(key, std::make_shared<const std::string>(protocol::serialize_telemetry(
                                t.device_id, t.readings, plan.metrics)));
  if ((*bytes)->empty()) return;  // none of the asked-for metrics is in this update
  std::vector<model::MetricReading> projected;
  for (const auto& r : t.readings)
    if (std::binary_search(plan.metrics.begin(), plan.metrics.end(), r.name))
      projected.push_back(r);
  count_delivery(Channel::telemetry);
  out_.push_telemetry(*bytes, t.device_id, projected, next_seq(Channel::telemetry, event.merged),
                      event.merged);
  queued();
}

void Connection::flush_throttled(SteadyTime now) {
  bool any = false;
  for (auto& [device, latest] : throttles_.take_due(now)) {
    count_delivery(Channel::telemetry);
    out_.push_telemetry(
        std::make_shared<const std::string>(protocol::serialize_telemetry(device, latest)), device,
        latest, next_seq(Channel::telemetry));
    any = true;
  }
  if (any) queued();
  set_timer(Timer::throttle, throttles_.next_due());
}

}  // namespace valtronics::session
