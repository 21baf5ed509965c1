// The connection core: catching up on subscribe (snapshots, since_alert_id replays).
//
// The subscription is registered first and live events of its channel are held; the stored
// state's answer is sent, then the held events that it does not already reflect, then live
// delivery resumes. Registering before the query is what makes the hand-over gap-free. While a
// catch-up runs, later requests wait (deferred_) so that every reply keeps the order of the
// requests.
#include "session/connection.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "config/limits.hpp"
#include "protocol/errors.hpp"

namespace valtronics::session {

using model::Channel;
namespace close_code = protocol::close_code;

Connection::HeldEvents& Connection::held(Channel c) {
  if (!held_) held_ = std::make_unique<std::array<HeldEvents, model::kChannelCount>>();
  return (*held_)[static_cast<std::size_t>(c)];
}

AlertsLedger& Connection::alerts_ledger() {
  if (!alerts_) alerts_ = std::make_unique<AlertsLedger>();
  return *alerts_;
}

namespace {

// Does a snapshot taken for `filters` already reflect held event `e` (of an id up to its
// `as_of`)? Only for the devices it was taken for, and, for telemetry, only when it carries
// every metric of the event: a held event that another subscription of the connection wants is
// still delivered.
bool snapshot_reflects(const protocol::Filters& filters, const hub::Event& e) {
  const auto device = model::device_of(e.body);
  if (!filters.device_ids.empty() &&
      !std::binary_search(filters.device_ids.begin(), filters.device_ids.end(), device))
    return false;
  if (const auto* t = std::get_if<model::TelemetryEvent>(&e.body); t && !filters.metrics.empty()) {
    for (const auto& r : t->readings)
      if (!std::binary_search(filters.metrics.begin(), filters.metrics.end(), r.name)) return false;
  }
  if (const auto* s = std::get_if<model::DeviceStatusEvent>(&e.body))
    return model::empty_or_contains(filters.status_types, s->new_status);
  return true;
}

}  // namespace

template <class T, class Fn>
std::function<void(T)> Connection::answer(Fn fn) {
  return [this, fn = std::move(fn)](T result) mutable {
    if (state_ == State::open) fn(std::move(result));
  };
}

void Connection::start_catch_up(const SubscribeReply& reply, Channel channel,
                                const protocol::Filters& filters, std::vector<AlertCover> cover) {
  if (channel == Channel::alerts) {
    start_alerts_catch_up(reply, filters, std::move(cover));
    return;
  }
  const bool snapshot = (channel == Channel::telemetry && filters.snapshot.value_or(false)) ||
                        (channel == Channel::devices && filters.snapshot.value_or(true));
  if (!snapshot) {
    send(protocol::subscribed(reply.id, channel, filters, std::nullopt, std::nullopt,
                              reply.forbidden));
    return;
  }
  catching_up_ = true;
  held(channel).active = true;
  if (channel == Channel::telemetry) {
    host_.telemetry_snapshot(
        filters, *claims_,
        answer<model::Snapshot<model::TelemetryEvent>>(
            [this, reply, filters](model::Snapshot<model::TelemetryEvent> snap) {
              on_telemetry_snapshot(reply, filters, std::move(snap));
            }));
  } else {
    host_.status_snapshot(filters, *claims_,
                          answer<model::Snapshot<model::DeviceStatusEvent>>(
                              [this, reply, filters](model::Snapshot<model::DeviceStatusEvent> snap) {
                                on_status_snapshot(reply, filters, std::move(snap));
                              }));
  }
}

void Connection::on_telemetry_snapshot(const SubscribeReply& reply,
                                       const protocol::Filters& filters,
                                       model::Snapshot<model::TelemetryEvent> snap) {
  send(protocol::subscribed(reply.id, Channel::telemetry, filters, std::nullopt, std::nullopt,
                            reply.forbidden));
  for (const auto& t : snap.items) {
    auto bytes = std::make_shared<const std::string>(
        protocol::serialize_telemetry(t.device_id, t.readings));
    out_.push_telemetry(bytes, t.device_id, t.readings, next_seq(Channel::telemetry));
  }
  queued();
  const auto as_of = snap.as_of;
  finish_catch_up(Channel::telemetry, [as_of, &filters](const hub::Event& e) {
    return e.id <= as_of && snapshot_reflects(filters, e);
  });
}

void Connection::on_status_snapshot(const SubscribeReply& reply, const protocol::Filters& filters,
                                    model::Snapshot<model::DeviceStatusEvent> snap) {
  send(protocol::subscribed(reply.id, Channel::devices, filters, std::nullopt, std::nullopt,
                            reply.forbidden));
  for (auto& st : snap.items)
    send_update(std::make_shared<const std::string>(protocol::serialize_event(std::move(st))),
                Channel::devices);
  const auto as_of = snap.as_of;
  finish_catch_up(Channel::devices, [as_of, &filters](const hub::Event& e) {
    return e.id <= as_of && snapshot_reflects(filters, e);
  });
}

// Every alerts subscription goes through the store, with or without since_alert_id: its
// `subscribed` reply carries `last_alert_id`, where the subscription starts. As for the other
// catch-ups, the subscription is registered first and live alerts are held until the answer
// (which comes once every alert committed before the query has been published, so they are
// either among the held ones or were published before the subscription existed).
void Connection::start_alerts_catch_up(const SubscribeReply& reply,
                                       const protocol::Filters& filters,
                                       std::vector<AlertCover> cover) {
  auto& ledger = alerts_ledger();
  if (filters.device_ids.empty()) ledger.forget(hub::kAllDevices);  // replaced, or new
  for (auto d : filters.device_ids) ledger.forget(d);
  catching_up_ = true;
  held(Channel::alerts).active = true;
  const std::int64_t known = ctx_.newest_alert_id.load(std::memory_order_relaxed);
  // Without since_alert_id, the query only looks for the newest alert: from `known` on, with
  // no filter but the token (last_alert_id is one number for every alerts subscription).
  const bool replay = filters.since_alert_id.has_value();
  host_.replay_alerts(
      replay ? *filters.since_alert_id : known, replay ? filters : protocol::Filters{}, *claims_,
      answer<model::AlertReplay>([this, reply, filters, known, cover = std::move(cover)](
                                     model::AlertReplay r) mutable {
        on_alerts_query(reply, filters, known, std::move(cover), std::move(r));
      }));
}

void Connection::on_alerts_query(const SubscribeReply& reply, const protocol::Filters& filters,
                                 std::int64_t known, std::vector<AlertCover> cover,
                                 model::AlertReplay r) {
  auto& ledger = alerts_ledger();
  std::int64_t newest = known, oldest = std::numeric_limits<std::int64_t>::max();
  for (const auto& a : r.alerts) {
    newest = std::max(newest, a.id);
    oldest = std::min(oldest, a.id);
  }
  raise_to(ctx_.newest_alert_id, newest);
  // Every alert up to `newest` was committed before the query and published before this
  // answer: either before the subscription (history) or since (held now). Alerts are published
  // in id order, so the held new alerts (status active) are the newest ones.
  std::int64_t last = newest, start;
  const bool replay = filters.since_alert_id.has_value();
  if (replay) {
    // The replay sends (since, newest]; a held copy of a replayed alert is skipped.
    last = std::max(*filters.since_alert_id, newest);
    // What it covers: everything above since_alert_id, or, when history was cut (replay
    // limit, age, pruning), what it sends (what it cannot send, no later replay sends either).
    start = r.complete ? *filters.since_alert_id : r.alerts.empty() ? last : oldest - 1;
  } else {
    // No replay: the subscription starts below the first alert raised since it was registered,
    // which comes live, like everything after it.
    for (const auto& e : held(Channel::alerts).events) {
      const auto& a = std::get<model::AlertEvent>(e->body);
      if (a.status == model::AlertStatus::active) last = std::min(last, a.alert_id - 1);
    }
    start = last;
  }
  if (filters.device_ids.empty()) ledger.set_start(hub::kAllDevices, start);
  for (auto d : filters.device_ids) ledger.set_start(d, start);
  send(protocol::subscribed(reply.id, Channel::alerts, filters,
                            replay ? std::optional<bool>(r.complete) : std::nullopt, last,
                            reply.forbidden));
  if (!replay) {
    finish_catch_up(Channel::alerts, [](const hub::Event&) { return false; });
    return;
  }
  replay_ = std::make_unique<ReplayState>();
  replay_->alerts = std::move(r.alerts);
  replay_->cover = std::move(cover);
  replay_->ack = filters.ack.value_or(false);
  pump_replay();
}

void Connection::pump_replay() {
  // A replay may be far larger than the outbound budget: it is fed in as the client reads
  // (from on_written), never more than half the budget at a time.
  auto& r = *replay_;
  const std::size_t budget = ctx_.cfg.limits.max_outbound_bytes / 2;
  // With `ack`, also never more than kMaxUnackedAlerts unacknowledged: acks resume it.
  auto room = [&] {
    return !r.ack || !acks_ || acks_->pending() < limits::kMaxUnackedAlerts;
  };
  while (r.next < r.alerts.size() && out_.queued_bytes() < budget && state_ == State::open &&
         room()) {
    const auto& a = r.alerts[r.next++];
    if (alerts_ && alerts_->already_sent(a, r.cover)) continue;
    r.sent[a.id] = model::rank(a.status);
    send_alert(std::make_shared<const std::string>(
                   protocol::serialize_event(model::EventBody(model::to_alert_event(a)))),
               r.ack);
  }
  if (r.next < r.alerts.size() || state_ != State::open) return;
  // Every alert committed before the query was published before the reply came, so it is
  // among the held ones: skip those the replay already sent at the same or a later state.
  auto sent = std::move(r.sent);
  replay_.reset();
  finish_catch_up(Channel::alerts, [&sent](const hub::Event& e) {
    const auto& a = std::get<model::AlertEvent>(e.body);
    return sent_at_or_after(sent, a.alert_id, a.status);
  });
}

template <class Skip>
void Connection::finish_catch_up(Channel channel, const Skip& skip) {
  auto& h = held(channel);
  auto events = std::move(h.events);
  h.events.clear();
  h.active = false;
  catching_up_ = false;
  hub::ProjectionCache cache;
  for (const auto& e : events) {
    if (state_ != State::open) return;
    if (skip(*e)) continue;
    cache.clear();
    deliver(e, cache);
  }
  held_.reset();
  // Requests that arrived meanwhile, in order (one of them may start the next catch-up).
  while (!catching_up_ && !deferred_.empty() && state_ == State::open) {
    auto item = std::move(deferred_.front());
    deferred_.erase(deferred_.begin());
    run(item);
  }
}

bool Connection::defer_if_catching_up(Item& item) {
  if (!catching_up_) return false;
  if (deferred_.size() >= limits::kMaxDeferredRequests) {
    close_slow_consumer("too many requests while catching up");
    return true;
  }
  deferred_.push_back(std::move(item));
  return true;
}

}  // namespace valtronics::session
