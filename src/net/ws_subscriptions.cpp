// WebSocket session: auth, token refresh and expiry, subscribe, unsubscribe and batch.
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

// ------------------------------------------------------------------------------------ auth

void WsSession::handle_auth(const protocol::Request& req, const protocol::AuthRequest& a) {
  if (a.malformed) {
    send(protocol::auth_failure(req.id, ErrorCode::invalid_token, "'token' must be a string"));
    close(close_code::auth_failed, "authentication failed");
    return;
  }
  auto verified = ctx_.verifier.verify(a.token, util::Clock::now());
  if (!verified) {
    send(protocol::auth_failure(req.id, verified.error().code, verified.error().message));
    close(close_code::auth_failed, "authentication failed");
    return;
  }
  auth::Claims claims = std::move(*verified);
  if (claims.sub != counted_user_) {
    if (!ctx_.registry.try_add_user(claims.sub)) {
      send(protocol::auth_failure(req.id, ErrorCode::too_many_connections,
                                  "too many connections for user '" + claims.sub + "' (limit " +
                                      std::to_string(ctx_.cfg.limits.max_connections_per_user) +
                                      ")"));
      close(close_code::too_many_connections, "too many connections for this user");
      return;
    }
    if (!counted_user_.empty()) ctx_.registry.remove_user(counted_user_);
    counted_user_ = claims.sub;
  }
  const bool first = !claims_;
  // What the alerts subscriptions delivered so far covers the devices the old token saw: with
  // more devices visible now, their covers no longer say what the connection has.
  if (!first && alerts_ && sees_more(claims, *claims_)) alerts_->starts.clear();
  claims_ = std::move(claims);
  send(protocol::auth_success(req.id, claims_->sub, auth::to_string(claims_->role),
                              claims_->expires_at));
  arm_token_timers();
  if (!first) {
    drop_forbidden_subscriptions();
  } else if (opts_.endpoint_channel && !auth::may_subscribe(*claims_, *opts_.endpoint_channel)) {
    send(protocol::error(std::nullopt, ErrorCode::forbidden,
                         "role '" + std::string(auth::to_string(claims_->role)) +
                             "' may not subscribe to " +
                             std::string(model::to_string(*opts_.endpoint_channel)) +
                             ": this endpoint will deliver nothing"));
  } else if (opts_.endpoint_channel) {
    // Per-channel endpoint: subscribed to its channel, unfiltered, as soon as authenticated.
    protocol::Filters filters;
    if (*opts_.endpoint_channel == Channel::system)
      filters.frequency = ctx_.cfg.system.default_frequency;
    subscribe_keys(*opts_.endpoint_channel, filters);
    start_catch_up(std::nullopt, *opts_.endpoint_channel, filters);
  }
}

void WsSession::arm_token_timers() {
  // Now that the auth timeout is over: first the warning, then the expiry. A refresh re-arms it.
  if (!claims_ || !claims_->expires_at) {
    set_deadline(Phase::none, {});
    return;
  }
  const auto left =
      std::chrono::duration_cast<Steady::duration>(*claims_->expires_at - util::Clock::now());
  set_deadline(Phase::token_warning, Steady::now() + (left - ctx_.cfg.auth.expiry_warning));
}

void WsSession::set_deadline(Phase phase, Steady::time_point when) {
  phase_ = phase;
  if (phase == Phase::none)
    worker_.deadlines.cancel(*this);
  else
    worker_.deadlines.schedule(*this, when);
}

void WsSession::on_deadline() {
  auto self = shared_from_this();  // what runs here may end the connection
  const Phase phase = std::exchange(phase_, Phase::none);
  switch (phase) {
    case Phase::none:
      break;
    case Phase::auth:
      if (!claims_ && state_ == State::open)
        close(close_code::auth_failed, "authentication timeout");
      break;
    case Phase::token_warning: {
      if (state_ != State::open || !claims_ || !claims_->expires_at) break;
      const auto exp = *claims_->expires_at;
      send(protocol::token_expiring(exp));
      // The same leeway as at verification: a token accepted just past exp is not cut at once.
      const auto until = std::chrono::duration_cast<Steady::duration>(
          exp + ctx_.cfg.auth.leeway - util::Clock::now());
      set_deadline(Phase::token_expiry, Steady::now() + until);
      break;
    }
    case Phase::token_expiry:
      if (state_ == State::open) close(close_code::token_expired, "token expired");
      break;
    case Phase::close_linger: {
      error_code ignored;
      socket_.close(ignored);
      break;
    }
  }
}

void WsSession::drop_forbidden_subscriptions() {
  for (auto it = subs_.begin(); it != subs_.end();) {
    const auto& k = it->first;
    const bool ok = auth::may_subscribe(*claims_, k.channel) &&
                    (k.device == hub::kAllDevices || auth::may_see_device(*claims_, k.device));
    if (ok) {
      ++it;
      continue;
    }
    worker_.shard->remove(this, k.channel, k.device);
    if (alerts_ && k.channel == Channel::alerts) alerts_->starts.erase(k.device);
    const bool every = k.device == hub::kAllDevices;
    send(protocol::subscription_error(
        ErrorCode::forbidden,
        "the new token does not cover the " + std::string(model::to_string(k.channel)) +
            " subscription" + (every ? "" : " of device " + std::to_string(k.device)) +
            ": it was removed",
        k.channel, every ? std::nullopt : std::optional<std::int64_t>(k.device)));
    it = subs_.erase(it);
  }
  prune_throttles();
}

// ----------------------------------------------------------------------------- subscribing

void WsSession::handle_subscribe(const protocol::Request& req, const protocol::SubscribeRequest& s) {
  if (opts_.endpoint_channel && s.channel != *opts_.endpoint_channel) {
    send(protocol::error(req.id, ErrorCode::channel_not_allowed,
                         "this endpoint serves only the " +
                             std::string(model::to_string(*opts_.endpoint_channel)) +
                             " channel; use /ws for every channel"));
    return;
  }
  if (!auth::may_subscribe(*claims_, s.channel)) {
    send(protocol::error(req.id, ErrorCode::forbidden,
                         "role '" + std::string(auth::to_string(claims_->role)) +
                             "' may not subscribe to " + std::string(model::to_string(s.channel))));
    return;
  }
  for (auto d : s.filters.device_ids) {
    if (!auth::may_see_device(*claims_, d)) {
      send(protocol::error(req.id, ErrorCode::forbidden,
                           "token does not cover device " + std::to_string(d)));
      return;
    }
  }
  std::size_t added = 0;
  if (s.filters.device_ids.empty()) {
    added = subs_.count({s.channel, hub::kAllDevices}) ? 0 : 1;
  } else {
    for (auto d : s.filters.device_ids) added += subs_.count({s.channel, d}) ? 0 : 1;
  }
  if (subs_.size() + added > ctx_.cfg.limits.max_subscriptions) {
    send(protocol::error(req.id, ErrorCode::too_many_subscriptions,
                         "at most " + std::to_string(ctx_.cfg.limits.max_subscriptions) +
                             " subscriptions per connection"));
    return;
  }
  // What the alerts subscriptions delivered so far, before this one replaces any of them.
  std::vector<AlertCover> cover;
  if (s.channel == Channel::alerts && s.filters.since_alert_id) cover = alert_cover();
  subscribe_keys(s.channel, s.filters);
  prune_throttles();
  start_catch_up(req.id, s.channel, s.filters, std::move(cover));
}

// Snapshots and replays: the subscription is registered first and live events of the channel
// are held; the engine's answer is sent, then the held events that it does not already reflect,
// then live delivery resumes. Registering before the query is what makes the hand-over
// gap-free. While a catch-up runs, later requests wait (deferred_) so that every reply keeps
// the order of the requests.

void WsSession::subscribe_keys(Channel channel, const protocol::Filters& filters) {
  auto add = [&](std::int64_t device) {
    subs_.insert_or_assign(SubKey{channel, device}, filters);
    worker_.shard->add(this, channel, device);
  };
  if (filters.device_ids.empty())
    add(hub::kAllDevices);
  else
    for (auto d : filters.device_ids) add(d);
  if (channel == Channel::system) system_next_due_ = Steady::time_point{};  // next sample
}

void WsSession::handle_unsubscribe(const protocol::Request& req,
                                   const protocol::UnsubscribeRequest& u) {
  std::size_t removed = 0;
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (it->first.channel == u.channel && (!u.device_id || it->first.device == *u.device_id)) {
      worker_.shard->remove(this, it->first.channel, it->first.device);
      if (alerts_ && u.channel == Channel::alerts) alerts_->starts.erase(it->first.device);
      it = subs_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  prune_throttles();
  send(protocol::unsubscribed(req.id, u.channel, u.device_id, removed));
}

void WsSession::handle_batch(const protocol::Request& req, const protocol::BatchRequest& b) {
  for (const auto& m : b.messages) {
    if (state_ != State::open) return;
    auto parsed = protocol::parse_request_value(m, ctx_.parse_options);
    std::variant<protocol::Request, protocol::ProtocolError> item;
    if (parsed) item = std::move(*parsed);
    else item = parsed.error();
    // A catch-up started by an earlier element holds the rest of the batch back, in order.
    if (defer_if_catching_up(item)) continue;
    if (auto* req = std::get_if<protocol::Request>(&item)) execute(*req);
    else send(protocol::error(parsed.error().id, parsed.error().code, parsed.error().message));
  }
}

}  // namespace valtronics::net
