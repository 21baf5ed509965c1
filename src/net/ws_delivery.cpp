// WebSocket session: hub events to frames (filters, projections, throttled telemetry).
#include "net/ws_session.hpp"

#include <algorithm>
#include <limits>
#include <utility>
#include <spdlog/spdlog.h>

#include "engine/engine.hpp"
#include "net/ws_session_internal.hpp"
#include "protocol/parse.hpp"
#include "protocol/serialize.hpp"

namespace valtronics::net {

// ------------------------------------------------------------------------------- delivering

void WsSession::on_event(const hub::EventPtr& event, hub::ProjectionCache& cache) {
  if (state_ != State::open || !claims_) return;
  const std::size_t queued_before = out_.queued_bytes();
  on_event_filtered(event, cache);
  if (spdlog::should_log(spdlog::level::debug) && out_.queued_bytes() != queued_before) {
    static constexpr std::string_view kTypes[] = {"telemetry_update", "alert",
                                                  "device_status_update", "system_status_update"};
    log_out(kTypes[event->body.index()], out_.queued_bytes() - queued_before, event->channel);
  }
}

void WsSession::on_event_filtered(const hub::EventPtr& event, hub::ProjectionCache& cache) {
  const auto device = event->device_id();
  const auto* alert = std::get_if<model::AlertEvent>(&event->body);
  if (alert && alerts_) raise_to(*alerts_->newest, alert->alert_id);
  if (event->channel != Channel::system && !auth::may_see_device(*claims_, device)) return;
  if (held_ && held(event->channel).active) {
    // A snapshot or replay of this channel is on its way: live events wait behind it.
    auto& h = held(event->channel);
    if (h.events.size() >= limits::kMaxHeldEvents) {
      close(close_code::slow_consumer, "too many events while replaying: reconnect to resume");
      return;
    }
    h.events.push_back(event);
    return;
  }

  if (const auto* t = std::get_if<model::TelemetryEvent>(&event->body)) {
    deliver_telemetry(*event, *t, cache);
    return;
  }
  // Does any subscription of this channel, for this device or for all, accept the event?
  const protocol::Filters* match = nullptr;
  for (auto it = subs_.lower_bound({event->channel, hub::kAllDevices});
       it != subs_.end() && it->first.channel == event->channel && !match; ++it) {
    if (it->first.device != hub::kAllDevices && it->first.device != device) continue;
    const auto& f = it->second;
    if (const auto* a = std::get_if<model::AlertEvent>(&event->body)) {
      if (model::empty_or_contains(f.severities, a->severity) && model::empty_or_contains(f.alert_types, a->alert_type)) match = &f;
    } else if (const auto* s = std::get_if<model::DeviceStatusEvent>(&event->body)) {
      if (model::empty_or_contains(f.status_types, s->new_status)) match = &f;
    } else {
      match = &f;
    }
  }
  if (!match) return;

  if (const auto* sys = std::get_if<model::SystemEvent>(&event->body)) {
    // Samples arrive every second; each connection takes one per its own `frequency`. Half a
    // second of slack keeps a 1 s frequency from skipping samples that arrive a little early.
    const auto now = Steady::now();
    if (now + std::chrono::milliseconds(500) < system_next_due_) return;
    system_next_due_ = now + match->frequency;
    if (match->metrics.empty()) {
      out_.push_system(event->full_bytes, next_seq(Channel::system));
    } else {
      std::string key = "s";
      for (const auto& m : match->metrics) key += "," + m;
      const Bytes* bytes = cache.find(key);
      if (!bytes)
        bytes = &cache.put(key, std::make_shared<const std::string>(
                                    protocol::serialize_system(*sys, match->metrics)));
      out_.push_system(*bytes, next_seq(Channel::system));
    }
    do_write();
    return;
  }
  if (alert) note_alert_sent(*alert);
  send_update(event->full_bytes, event->channel);
}

WsSession::TelemetryPlan WsSession::telemetry_plan(std::int64_t device) const {
  // Union of what the matching subscriptions ask for: every metric if any of them has no
  // `metrics` filter; real-time if any of them is real-time, else the shortest interval.
  TelemetryPlan plan;
  if (!claims_ || !auth::may_see_device(*claims_, device)) return plan;
  bool all_metrics = false;
  for (auto it = subs_.lower_bound({Channel::telemetry, hub::kAllDevices});
       it != subs_.end() && it->first.channel == Channel::telemetry; ++it) {
    if (it->first.device != hub::kAllDevices && it->first.device != device) continue;
    const auto& f = it->second;
    plan.matched = true;
    if (f.metrics.empty()) all_metrics = true;
    else plan.metrics.insert(plan.metrics.end(), f.metrics.begin(), f.metrics.end());
    if (f.frequency.count() == 0) plan.realtime = true;
    else plan.frequency = std::min(plan.frequency, f.frequency);
  }
  if (all_metrics) {
    plan.metrics.clear();
  } else {
    std::sort(plan.metrics.begin(), plan.metrics.end());
    plan.metrics.erase(std::unique(plan.metrics.begin(), plan.metrics.end()), plan.metrics.end());
  }
  return plan;
}

void WsSession::prune_throttles() {
  // Held-back values belong to the subscriptions that held them: after any change, keep only
  // what the new subscriptions still throttle, restricted to the metrics they still want.
  for (auto it = throttles_.begin(); it != throttles_.end();) {
    const auto plan = telemetry_plan(it->first);
    if (!plan.matched || plan.realtime) {
      it = throttles_.erase(it);
      continue;
    }
    auto& pending = it->second.pending;
    if (!plan.metrics.empty())
      std::erase_if(pending, [&](const auto& kv) {
        return !std::binary_search(plan.metrics.begin(), plan.metrics.end(), kv.first);
      });
    it->second.frequency = plan.frequency;
    ++it;
  }
}

void WsSession::deliver_telemetry(const hub::Event& event, const model::TelemetryEvent& t,
                                  hub::ProjectionCache& cache) {
  auto plan = telemetry_plan(t.device_id);
  if (!plan.matched) return;
  const auto& metrics = plan.metrics;
  const bool realtime = plan.realtime;
  const auto freq = plan.frequency;

  if (!realtime) {
    deliver_throttled(t.device_id, t.readings, metrics, freq);
    return;
  }
  if (metrics.empty()) {
    out_.push_telemetry(event.full_bytes, t.device_id, t.readings, next_seq(Channel::telemetry));
    do_write();
    return;
  }
  std::string key = "t";
  for (const auto& m : metrics) key += "," + m;
  const Bytes* bytes = cache.find(key);
  if (!bytes)
    bytes = &cache.put(key, std::make_shared<const std::string>(
                                protocol::serialize_telemetry(t.device_id, t.readings, metrics)));
  if ((*bytes)->empty()) return;  // none of the asked-for metrics is in this update
  std::vector<model::MetricReading> projected;
  for (const auto& r : t.readings)
    if (std::binary_search(metrics.begin(), metrics.end(), r.name)) projected.push_back(r);
  out_.push_telemetry(*bytes, t.device_id, projected, next_seq(Channel::telemetry));
  do_write();
}

void WsSession::deliver_throttled(std::int64_t device, std::span<const model::MetricReading> readings,
                                  std::span<const std::string> metrics,
                                  std::chrono::milliseconds freq) {
  auto& th = throttles_[device];
  bool any = false;
  for (const auto& r : readings) {
    if (!metrics.empty() && !std::binary_search(metrics.begin(), metrics.end(), r.name)) continue;
    th.pending.insert_or_assign(r.name, r);
    any = true;
  }
  if (!any) return;
  const auto now = Steady::now();
  th.frequency = freq;
  if (now >= th.next_due) {
    th.next_due = now + freq;
    send_throttled(device, th);
    do_write();
    return;
  }
  arm_throttle_timer();
}

void WsSession::send_throttled(std::int64_t device, Throttle& th) {
  // Per-connection JSON, but only for a client that asked for fewer updates.
  std::vector<model::MetricReading> latest;
  for (auto& [name, r] : th.pending) latest.push_back(std::move(r));
  th.pending.clear();
  out_.push_telemetry(
      std::make_shared<const std::string>(protocol::serialize_telemetry(device, latest)), device,
      latest, next_seq(Channel::telemetry));
}

void WsSession::arm_throttle_timer() {
  auto earliest = Steady::time_point::max();
  for (auto& [d, th] : throttles_)
    if (!th.pending.empty()) earliest = std::min(earliest, th.next_due);
  if (earliest == Steady::time_point::max()) return;
  if (!throttle_timer_) throttle_timer_ = std::make_unique<asio::steady_timer>(worker_.ioc);
  if (throttle_armed_ && throttle_timer_->expiry() <= earliest) return;
  // (Re)arming cancels a later wait; its handler sees operation_aborted and does nothing.
  throttle_armed_ = true;
  throttle_timer_->expires_at(earliest);
  throttle_timer_->async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->state_ != State::open) return;
    self->throttle_armed_ = false;
    self->flush_throttled();
  });
}

void WsSession::flush_throttled() {
  const auto now = Steady::now();
  for (auto& [device, th] : throttles_) {
    if (th.pending.empty() || now < th.next_due) continue;
    // Pace from the slot, not from now, so an interval keeps its rhythm.
    th.next_due += th.frequency;
    if (th.next_due < now) th.next_due = now + th.frequency;
    send_throttled(device, th);
  }
  do_write();
  arm_throttle_timer();
}

}  // namespace valtronics::net
