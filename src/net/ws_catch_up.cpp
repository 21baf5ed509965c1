// WebSocket session: catching up on subscribe (snapshots, since_alert_id replays) with live
// events held meanwhile, and requests deferred until it is done.
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

void WsSession::start_catch_up(const protocol::OptId& id, Channel channel,
                               const protocol::Filters& filters, std::vector<AlertCover> cover) {
  if (channel == Channel::alerts) {
    start_alerts_catch_up(id, filters, std::move(cover));
    return;
  }
  const bool snapshot = (channel == Channel::telemetry && filters.snapshot.value_or(false)) ||
                        (channel == Channel::devices && filters.snapshot.value_or(true));
  if (!snapshot || !ctx_.engine) {
    send(protocol::subscribed(id, channel, filters));
    return;
  }
  catching_up_ = true;
  held(channel).active = true;
  auto self = shared_from_this();
  auto back = [self](auto fn) {  // engine thread -> this session's thread
    return [self, fn = std::move(fn)](auto result) mutable {
      asio::post(self->worker_.ioc, [self, fn = std::move(fn), result = std::move(result)]() mutable {
        if (self->state_ != State::open) return;
        fn(std::move(result));
      });
    };
  };
  if (channel == Channel::telemetry) {
    ctx_.engine->telemetry_snapshot(
        filters, *claims_,
        back([self, id, filters](model::Snapshot<model::TelemetryEvent> snap) {
          self->send(protocol::subscribed(id, Channel::telemetry, filters));
          for (const auto& t : snap.items) {
            auto bytes = std::make_shared<const std::string>(
                protocol::serialize_telemetry(t.device_id, t.readings));
            self->out_.push_telemetry(bytes, t.device_id, t.readings,
                                      self->next_seq(Channel::telemetry));
          }
          self->do_write();
          const auto as_of = snap.as_of;
          self->finish_catch_up(Channel::telemetry,
                                [as_of](const hub::Event& e) { return e.id <= as_of; });
        }));
  } else {
    ctx_.engine->status_snapshot(
        filters, *claims_,
        back([self, id, filters](model::Snapshot<model::DeviceStatusEvent> snap) {
          self->send(protocol::subscribed(id, Channel::devices, filters));
          for (auto& st : snap.items) {
            hub::Event e;
            e.channel = Channel::devices;
            e.body = std::move(st);
            self->send_update(std::make_shared<const std::string>(protocol::serialize_event(e.body)),
                              Channel::devices);
          }
          const auto as_of = snap.as_of;
          self->finish_catch_up(Channel::devices,
                                [as_of](const hub::Event& e) { return e.id <= as_of; });
        }));
  }
}

// Every alerts subscription goes through the store, with or without since_alert_id: its
// `subscribed` reply carries `last_alert_id`, where the subscription starts. As for the other
// catch-ups, the subscription is registered first and live alerts are held until the answer
// (which comes once every alert committed before the query has been published, so they are
// either among the held ones or were published before the subscription existed).
void WsSession::start_alerts_catch_up(const protocol::OptId& id, const protocol::Filters& filters,
                                      std::vector<AlertCover> cover) {
  auto& st = alerts_state();
  auto for_each_key = [&](auto fn) {
    if (filters.device_ids.empty()) fn(hub::kAllDevices);
    for (auto d : filters.device_ids) fn(d);
  };
  for_each_key([&](std::int64_t d) { st.starts.erase(d); });  // replaced, or new
  if (!ctx_.engine) {
    // No store behind this server: no alert, ever; nothing to replay, and the reply says so.
    for_each_key([&](std::int64_t d) { st.starts[d] = 0; });
    send(protocol::subscribed(id, Channel::alerts, filters,
                              filters.since_alert_id ? std::optional<bool>(false) : std::nullopt,
                              filters.since_alert_id.value_or(0)));
    return;
  }
  catching_up_ = true;
  held(Channel::alerts).active = true;
  const std::int64_t known = st.newest->load(std::memory_order_relaxed);
  // Without since_alert_id, the query only looks for the newest alert: from `known` on, with
  // no filter but the token (last_alert_id is one number for every alerts subscription).
  const bool replay = filters.since_alert_id.has_value();
  ctx_.engine->replay_alerts(
      replay ? *filters.since_alert_id : known, replay ? filters : protocol::Filters{}, *claims_,
      [self = shared_from_this(), id, filters, known, cover = std::move(cover)](
          model::AlertReplay r) mutable {  // engine or writer thread -> this session's thread
        auto& ioc = self->worker_.ioc;
        asio::post(ioc, [self = std::move(self), id = std::move(id), filters = std::move(filters),
                         known, cover = std::move(cover), r = std::move(r)]() mutable {
          if (self->state_ != State::open) return;
          self->on_alerts_query(id, filters, known, std::move(cover), std::move(r));
        });
      });
}

void WsSession::on_alerts_query(const protocol::OptId& id, const protocol::Filters& filters,
                                std::int64_t known, std::vector<AlertCover> cover,
                                model::AlertReplay r) {
  auto& st = alerts_state();
  std::int64_t newest = known, oldest = std::numeric_limits<std::int64_t>::max();
  for (const auto& a : r.alerts) {
    newest = std::max(newest, a.id);
    oldest = std::min(oldest, a.id);
  }
  raise_to(*st.newest, newest);
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
      if (model::rank(a.status) == 0) last = std::min(last, a.alert_id - 1);
    }
    start = last;
  }
  if (filters.device_ids.empty()) st.starts[hub::kAllDevices] = start;
  for (auto d : filters.device_ids) st.starts[d] = start;
  send(protocol::subscribed(id, Channel::alerts, filters,
                            replay ? std::optional<bool>(r.complete) : std::nullopt, last));
  if (!replay) {
    finish_catch_up(Channel::alerts, [](const hub::Event&) { return false; });
    return;
  }
  replay_ = std::make_unique<ReplayState>();
  replay_->alerts = std::move(r.alerts);
  replay_->cover = std::move(cover);
  pump_replay();
}

WsSession::AlertsState& WsSession::alerts_state() {
  if (!alerts_) {
    alerts_ = std::make_unique<AlertsState>();
    alerts_->newest = &ctx_.newest_alert_id;
  }
  return *alerts_;
}

std::vector<WsSession::AlertCover> WsSession::alert_cover() const {
  std::vector<AlertCover> out;
  if (!alerts_) return out;
  for (const auto& [device, start] : alerts_->starts) {
    auto it = subs_.find({Channel::alerts, device});
    if (it == subs_.end()) continue;
    out.push_back({device, it->second.severities, it->second.alert_types, start});
  }
  return out;
}

// A replayed alert the connection already has, at its current status or a later one: within a
// cover (an alerts subscription has delivered it, with every state change since), or sent live
// outside of every cover at that status.
bool WsSession::alert_already_sent(const model::Alert& a, const std::vector<AlertCover>& cover) const {
  for (const auto& c : cover) {
    if ((c.device == hub::kAllDevices || c.device == a.device_id) && a.id > c.start &&
        model::empty_or_contains(c.severities, a.severity) && model::empty_or_contains(c.alert_types, a.alert_type))
      return true;
  }
  if (!alerts_) return false;
  auto it = alerts_->other_sent.find(a.id);
  return it != alerts_->other_sent.end() && it->second >= model::rank(a.status);
}

void WsSession::note_alert_sent(const model::AlertEvent& a) {
  if (!alerts_) return;
  for (const auto& [device, start] : alerts_->starts) {
    if ((device != hub::kAllDevices && device != a.device_id) || a.alert_id <= start) continue;
    auto it = subs_.find({Channel::alerts, device});
    if (it != subs_.end() && model::empty_or_contains(it->second.severities, a.severity) &&
        model::empty_or_contains(it->second.alert_types, a.alert_type))
      return;  // within a cover
  }
  auto& rank = alerts_->other_sent[a.alert_id];
  rank = std::max(rank, model::rank(a.status));
  if (alerts_->other_sent.size() > limits::kMaxOtherSentAlerts)
    alerts_->other_sent.erase(alerts_->other_sent.begin());
}

void WsSession::pump_replay() {
  // A replay may be far larger than the outbound budget: it is fed in as the client reads
  // (from write_now), never more than half the budget at a time.
  auto& r = *replay_;
  const std::size_t budget = ctx_.cfg.limits.max_outbound_bytes / 2;
  while (r.next < r.alerts.size() && out_.queued_bytes() < budget && state_ == State::open) {
    const auto& a = r.alerts[r.next++];
    if (alert_already_sent(a, r.cover)) continue;
    hub::Event e;
    e.channel = Channel::alerts;
    e.body = model::to_alert_event(a);
    r.sent[a.id] = model::rank(a.status);
    send_update(std::make_shared<const std::string>(protocol::serialize_event(e.body)), Channel::alerts);
  }
  if (r.next < r.alerts.size() || state_ != State::open) return;
  // Every alert committed before the query was published before the reply came, so it is
  // among the held ones: skip those the replay already sent at the same or a later state.
  auto sent = std::move(r.sent);
  replay_.reset();
  finish_catch_up(Channel::alerts, [&sent](const hub::Event& e) {
    const auto& a = std::get<model::AlertEvent>(e.body);
    auto it = sent.find(a.alert_id);
    return it != sent.end() && it->second >= model::rank(a.status);
  });
}

void WsSession::finish_catch_up(Channel channel, const std::function<bool(const hub::Event&)>& skip) {
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
    on_event_filtered(e, cache);
  }
  held_.reset();
  // Requests that arrived meanwhile, in order (one of them may start the next catch-up).
  while (!catching_up_ && !deferred_.empty() && state_ == State::open) {
    auto item = std::move(deferred_.front());
    deferred_.erase(deferred_.begin());
    if (auto* req = std::get_if<protocol::Request>(&item)) execute(*req);
    else {
      const auto& err = std::get<protocol::ProtocolError>(item);
      send(protocol::error(err.id, err.code, err.message));
    }
  }
}

bool WsSession::defer_if_catching_up(std::variant<protocol::Request, protocol::ProtocolError>& item) {
  if (!catching_up_) return false;
  if (deferred_.size() >= limits::kMaxDeferredRequests) {
    close(close_code::slow_consumer, "too many requests while catching up");
    return true;
  }
  deferred_.push_back(std::move(item));
  return true;
}

}  // namespace valtronics::net
