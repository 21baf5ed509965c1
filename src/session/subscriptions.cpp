// The connection core: auth, token refresh, subscribe, unsubscribe and batch.
#include "session/connection.hpp"

#include <utility>

#include "auth/policy.hpp"
#include "config/limits.hpp"
#include "protocol/errors.hpp"

namespace valtronics::session {

using model::Channel;
using protocol::ErrorCode;
namespace close_code = protocol::close_code;

// ------------------------------------------------------------------------------------ auth

void Connection::handle_auth(const protocol::Request& req, const protocol::AuthRequest& a) {
  if (a.malformed) {
    ctx_.abuse.auth_failure(opts_.peer, "websocket auth: 'token' not a string", ctx_.steady_now());
    send(protocol::auth_failure(req.id, ErrorCode::invalid_token, "'token' must be a string"));
    close(close_code::auth_failed, "authentication failed");
    return;
  }
  auto verified = ctx_.verifier.verify(a.token, ctx_.wall_now());
  if (!verified) {
    ctx_.abuse.auth_failure(opts_.peer, "websocket auth: " + verified.error().message,
                            ctx_.steady_now());
    send(protocol::auth_failure(req.id, verified.error().code, verified.error().message));
    close(close_code::auth_failed, "authentication failed");
    return;
  }
  auth::Claims claims = std::move(*verified);
  if (claims.sub != counted_user_) {
    if (!ctx_.registry.try_add_user(claims.sub)) {
      ctx_.abuse.limit_violation(opts_.peer, "limits.max_connections_per_user (4029)",
                                 ctx_.steady_now());
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
  if (first) ctx_.registry.authenticated();  // no longer counts for limits.max_unauthenticated
  // What the alerts subscriptions delivered so far covers the devices the old token saw: with
  // more devices visible now, their covers no longer say what the connection has.
  if (!first && alerts_ && auth::sees_more(claims, *claims_)) alerts_->forget_all();
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
    subscriptions_changed();
    start_catch_up(SubscribeReply{}, *opts_.endpoint_channel, filters);
  }
}

void Connection::drop_forbidden_subscriptions() {
  for (auto it = subs_.begin(); it != subs_.end();) {
    const auto k = it->first;
    const bool ok = auth::may_subscribe(*claims_, k.channel) &&
                    (k.device == hub::kAllDevices || auth::may_see_device(*claims_, k.device));
    if (ok) {
      ++it;
      continue;
    }
    shard_.remove(this, k.channel, k.device);
    if (alerts_ && k.channel == Channel::alerts) alerts_->forget(k.device);
    it = subs_.erase(it);
    const bool every = k.device == hub::kAllDevices;
    send(protocol::subscription_error(
        ErrorCode::forbidden,
        "the new token does not cover the " + std::string(model::to_string(k.channel)) +
            " subscription" + (every ? "" : " of device " + std::to_string(k.device)) +
            ": it was removed",
        k.channel, every ? std::nullopt : std::optional<std::int64_t>(k.device)));
  }
  subscriptions_changed();
}

void Connection::subscriptions_changed() {
  throttles_.prune(subs_, [this](std::int64_t d) { return auth::may_see_device(*claims_, d); });
  bool wanted = false;
  for (const auto& [key, f] : subs_)
    wanted = wanted || (key.channel == Channel::telemetry && (f.gates_values() || f.stale_after));
  if (!wanted) {
    watch_.reset();
  } else {
    if (!watch_) watch_ = std::make_unique<TelemetryWatch>();
    watch_->gates.prune(subs_);
    watch_->stale.sync(subs_, ctx_.steady_now());
  }
  arm_telemetry_timer();
}

// ----------------------------------------------------------------------------- subscribing

void Connection::handle_subscribe(const protocol::Request& req,
                                  const protocol::SubscribeRequest& s) {
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
  // A partial subscribe (issue 15): the devices the token covers are subscribed, the others
  // listed in the reply's `forbidden`; only when it covers none is the whole request refused.
  protocol::Filters filters = s.filters;
  SubscribeReply reply{req.id};
  std::erase_if(filters.device_ids, [&](std::int64_t d) {
    if (auth::may_see_device(*claims_, d)) return false;
    reply.forbidden.push_back(d);
    return true;
  });
  if (!s.filters.device_ids.empty() && filters.device_ids.empty()) {
    std::string ids;
    for (auto d : reply.forbidden) ids += (ids.empty() ? "" : ", ") + std::to_string(d);
    send(protocol::error(req.id, ErrorCode::forbidden,
                         std::string("token does not cover device") +
                             (reply.forbidden.size() > 1 ? "s " : " ") + ids));
    return;
  }
  std::size_t added = 0;
  if (filters.device_ids.empty()) {
    added = subs_.count({s.channel, hub::kAllDevices}) ? 0 : 1;
  } else {
    for (auto d : filters.device_ids) added += subs_.count({s.channel, d}) ? 0 : 1;
  }
  if (subs_.size() + added > ctx_.cfg.limits.max_subscriptions) {
    ctx_.abuse.limit_violation(opts_.peer, "limits.max_subscriptions", ctx_.steady_now());
    send(protocol::error(req.id, ErrorCode::too_many_subscriptions,
                         "at most " + std::to_string(ctx_.cfg.limits.max_subscriptions) +
                             " subscriptions per connection"));
    return;
  }
  // What the alerts subscriptions delivered so far, before this one replaces any of them.
  std::vector<AlertCover> cover;
  if (s.channel == Channel::alerts && filters.since_alert_id && alerts_)
    cover = alerts_->covers(subs_);
  subscribe_keys(s.channel, filters);
  subscriptions_changed();
  start_catch_up(reply, s.channel, filters, std::move(cover));
}

void Connection::subscribe_keys(Channel channel, const protocol::Filters& filters) {
  auto add = [&](std::int64_t device) {
    subs_.insert_or_assign(SubKey{channel, device}, filters);
    shard_.add(this, channel, device);
  };
  if (filters.device_ids.empty())
    add(hub::kAllDevices);
  else
    for (auto d : filters.device_ids) add(d);
  if (channel == Channel::system) system_next_due_ = SteadyTime{};  // next sample
}

void Connection::handle_unsubscribe(const protocol::Request& req,
                                    const protocol::UnsubscribeRequest& u) {
  std::size_t removed = 0;
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (it->first.channel == u.channel && (!u.device_id || it->first.device == *u.device_id)) {
      shard_.remove(this, it->first.channel, it->first.device);
      if (alerts_ && u.channel == Channel::alerts) alerts_->forget(it->first.device);
      it = subs_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  subscriptions_changed();
  send(protocol::unsubscribed(req.id, u.channel, u.device_id, removed));
}

void Connection::handle_batch(const protocol::Request& req, const protocol::BatchRequest& b) {
  // A catch-up started by an earlier element holds the rest of the batch back, in order and
  // ahead of any request that arrived after the batch (a deferred batch runs from the front of
  // deferred_, with later requests behind it).
  std::size_t insert_at = 0;
  for (const auto& m : b.messages) {
    if (state_ != State::open) return;
    auto parsed = protocol::parse_request_value(m, ctx_.parse_options);
    Item item = parsed ? Item(std::move(*parsed)) : Item(parsed.error());
    if (catching_up_) {
      if (deferred_.size() >= limits::kMaxDeferredRequests) {
        close_slow_consumer("too many requests while catching up");
        return;
      }
      deferred_.insert(deferred_.begin() + static_cast<std::ptrdiff_t>(insert_at++),
                       std::move(item));
      continue;
    }
    run(item);
  }
}

}  // namespace valtronics::session
