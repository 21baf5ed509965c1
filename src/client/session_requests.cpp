// Requests of the client's session: ids, sending once authenticated, matching replies by id,
// batches, timeouts, and what confirmed replies change in the subscription set.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include "client/session.hpp"

namespace valtronics::client {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

const json::object* object_at(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

constexpr auto kRestoreRetry = std::chrono::seconds(1);

// Error codes that mean "the server will never accept this subscription as it is": the
// subscription leaves the restore set. Any other error is transient and the restore is retried.
bool is_refusal(const std::string& code) {
  return code == "forbidden" || code == "unknown_channel" || code == "unknown_filter" ||
         code == "invalid_filter" || code == "channel_not_allowed" ||
         code == "too_many_subscriptions" || code == "invalid_message";
}

void call(const ReplyHandler& done, const Reply& r) {
  if (!done) return;
  try {
    done(r);
  } catch (...) {  // application code must not unwind through the I/O loop
  }
}
}  // namespace

std::int64_t Client::Session::enqueue(Kind kind, json::object msg, ReplyHandler done,
                                      std::int64_t parent, bool internal) {
  auto id = next_id_++;
  msg["id"] = id;
  Pending p;
  p.kind = kind;
  p.request = std::move(msg);
  p.done = std::move(done);
  p.parent = parent;
  p.internal = internal || kind == Kind::auth || kind == Kind::keepalive || kind == Kind::restore;
  if (p.done) p.deadline = std::chrono::steady_clock::now() + opts_.request_timeout;
  pending_.emplace(id, std::move(p));
  return id;
}

void Client::Session::send_pending(std::int64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.parent != 0) return;  // parts travel in their batch
  auto& p = it->second;
  // Only auth goes before authentication (the server answers anything else not_authenticated).
  if (!conn_ || !open_ || (!authenticated_ && p.kind != Kind::auth)) return;
  conn_->send(encode(p.request));
  p.sent_on = generation_;
  p.sent_at = std::chrono::steady_clock::now();
}

void Client::Session::flush_unsent() {
  std::vector<std::int64_t> ids;
  for (const auto& [id, p] : pending_)
    if (p.parent == 0 && p.sent_on != generation_ && p.kind != Kind::auth) ids.push_back(id);
  for (auto id : ids) send_pending(id);  // in id order: the order of the calls
}

void Client::Session::on_reply(std::int64_t id, const Message& m) {
  auto it = pending_.find(id);
  Pending p = std::move(it->second);
  pending_.erase(it);
  Reply r{m.body, {}, {}};
  if (m.type == "error") {
    r.error = str(m.body, "error");
    if (r.error.empty()) r.error = "error";
    r.error_message = str(m.body, "message");
  }
  if (p.kind == Kind::keepalive) {  // the session's own liveness check: not the app's business
    if (keepalive_id_ == id) keepalive_id_ = 0;
    return;
  }
  deliver(m);
  if (p.kind == Kind::batch) {
    // A reply to the batch itself is an error for the whole frame (batch_too_large, ...):
    // none of its messages was executed.
    for (auto part : p.parts) {
      auto pi = pending_.find(part);
      if (pi == pending_.end()) continue;
      Pending pp = std::move(pi->second);
      pending_.erase(pi);
      complete(part, std::move(pp), r);
    }
    return;
  }
  complete(id, std::move(p), r);
}

void Client::Session::complete(std::int64_t id, Pending p, const Reply& r) {
  track(p.kind, p.request, r);
  if (p.parent != 0) {
    if (auto parent = pending_.find(p.parent); parent != pending_.end()) {
      auto& parts = parent->second.parts;
      parts.erase(std::remove(parts.begin(), parts.end(), id), parts.end());
      if (parts.empty()) pending_.erase(parent);
    }
  }
  call(p.done, r);
}

void Client::Session::track(Kind kind, const json::object& request, const Reply& r) {
  std::string channel = str(request, "channel");
  if ((kind == Kind::subscribe || kind == Kind::restore) && r.ok()) {
    const json::object* filters = object_at(r.message, "filters");
    json::object none;
    subs_.confirm(str(r.message, "channel"), filters ? *filters : none);
    if (filters)
      if (auto* since = filters->if_contains("since_alert_id"); since && since->is_int64())
        router_.note_since(since->get_int64());
    // A plain alerts subscription says where the stored alerts end (`last_alert_id`): before any
    // alert was seen, that is the resume point, so alerts raised during a first outage are
    // replayed too. (On a replay's reply it marks the replay's end: the alerts themselves move
    // the resume point.)
    if (str(r.message, "channel") == "alerts" && !r.message.contains("recovered") &&
        router_.last_alert_id() == 0)
      if (auto* last = r.message.if_contains("last_alert_id"); last && last->is_int64())
        router_.note_since(last->get_int64());
    // A partial subscribe (docs/protocol.md, "Extensions"): the devices the token does not
    // cover were not subscribed. A restore drops them from what it restores and says so; the
    // covered ones stay. (A new subscribe's caller sees `forbidden` in its reply.)
    if (kind == Kind::restore)
      if (auto* forbidden = r.message.if_contains("forbidden"); forbidden && forbidden->is_array())
        for (const auto& d : forbidden->get_array())
          if (d.is_int64())
            forget_subscription(channel, d.get_int64(), "restore", "forbidden",
                                "the token does not cover device " +
                                    std::to_string(d.get_int64()));
    return;
  }
  if (kind == Kind::restore && r.error != "timeout" && r.error != "closed") {
    const json::object* filters = object_at(request, "filters");
    if (r.error == "unknown_filter" && filters && filters->contains("since_alert_id")) {
      // An older server without replay: subscribe without it, and stop asking.
      resume_supported_ = false;
      json::object again = request;
      again.erase("id");
      again["filters"].get_object().erase("since_alert_id");
      send_pending(enqueue(Kind::restore, std::move(again), nullptr));
      return;
    }
    if (!is_refusal(r.error)) {
      // Transient (rate_limited, internal_error): the subscription is still wanted; try again
      // in a second on this connection (a new connection restores it anyway).
      json::object again = request;
      again.erase("id");
      auto gen = generation_;
      auto timer = std::make_shared<asio::steady_timer>(ioc_, kRestoreRetry);
      timer->async_wait([this, timer, gen, again](boost::system::error_code ec) {
        if (ec || done_ || gen != generation_ || !authenticated_) return;
        send_pending(enqueue(Kind::restore, again, nullptr));
      });
      return;
    }
    // Refused now (a refreshed token with fewer rights, say): no longer ours to restore.
    bool any = false;
    if (filters)
      if (auto* ids = filters->if_contains("device_id"); ids && ids->is_array())
        for (const auto& d : ids->get_array())
          if (d.is_int64()) {
            forget_subscription(channel, d.get_int64(), "restore", r.error, r.error_message);
            any = true;
          }
    if (!any) forget_subscription(channel, std::nullopt, "restore", r.error, r.error_message);
    return;
  }
  if (kind == Kind::unsubscribe && r.ok()) {
    std::optional<std::int64_t> device;
    if (auto* d = request.if_contains("device_id"); d && d->is_int64()) device = d->get_int64();
    subs_.remove(channel, device);
  }
}

void Client::Session::fail_all(const std::string& code, const std::string& message) {
  auto all = std::move(pending_);
  pending_.clear();
  Reply r{{}, code, message};
  for (auto& [id, p] : all) call(p.done, r);
}

Client::Session::Kind Client::Session::kind_of(const json::object& m) {
  auto t = str(m, "type");
  if (t == "subscribe") return Kind::subscribe;
  if (t == "unsubscribe") return Kind::unsubscribe;
  if (t == "ping") return Kind::ping;
  return Kind::other;
}

void Client::Session::request(json::object msg, ReplyHandler done) {
  asio::post(ioc_, [this, msg = std::move(msg), done = std::move(done)]() mutable {
    if (done_) {
      call(done, Reply{{}, "closed", "the client is closed"});
      return;
    }
    Kind kind = kind_of(msg);  // before msg is moved from
    auto id = enqueue(kind, std::move(msg), std::move(done));
    send_pending(id);
  });
}

void Client::Session::batch(std::vector<json::object> msgs,
                            std::function<void(std::vector<Reply>)> done) {
  asio::post(ioc_, [this, msgs = std::move(msgs), done = std::move(done)]() mutable {
    if (done_ || msgs.empty()) {
      std::vector<Reply> replies(msgs.size(), Reply{{}, "closed", "the client is closed"});
      if (done) done(std::move(replies));
      return;
    }
    struct Gather {
      std::vector<Reply> replies;
      std::size_t remaining;
      std::function<void(std::vector<Reply>)> done;
    };
    auto g = std::make_shared<Gather>(Gather{std::vector<Reply>(msgs.size()), msgs.size(),
                                             std::move(done)});
    auto bid = enqueue(Kind::batch, json::object{{"type", "batch"}}, nullptr);
    json::array arr;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      Kind kind = kind_of(msgs[i]);
      auto pid = enqueue(kind, std::move(msgs[i]), [g, i](const Reply& r) {
        g->replies[i] = r;
        if (--g->remaining == 0 && g->done) g->done(std::move(g->replies));
      }, bid);
      pending_[bid].parts.push_back(pid);
      arr.push_back(pending_[pid].request);
    }
    pending_[bid].request["messages"] = std::move(arr);
    send_pending(bid);
  });
}

}  // namespace valtronics::client
