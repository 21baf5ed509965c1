// The client's state machine on its I/O thread; see session.hpp and the contract in client.hpp.
// Request bookkeeping (ids, replies, batches, timeouts) is in session_requests.cpp.
#include "client/session.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "client/format.hpp"
#include "codec/msgpack_json.hpp"

namespace valtronics::client {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {
// Deadlines (requests, the first auth_response, keepalive) are checked on this period: fine
// enough for second-scale timeouts, rare enough to cost nothing.
constexpr auto kTick = std::chrono::milliseconds(250);
// After close(), how long the server gets to answer the close frame before the socket is dropped.
constexpr auto kCloseLinger = std::chrono::seconds(1);

StateChange change(State s, std::string detail, unsigned attempt = 0,
                   std::chrono::milliseconds delay = std::chrono::milliseconds(0)) {
  StateChange c;
  c.state = s;
  c.detail = std::move(detail);
  c.attempt = attempt;
  c.delay = delay;
  return c;
}

std::string str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}
}  // namespace

const char* to_string(State s) {
  switch (s) {
    case State::idle: return "idle";
    case State::connecting: return "connecting";
    case State::connected: return "connected";
    case State::reconnecting: return "reconnecting";
    case State::closed: return "closed";
    case State::failed: return "failed";
  }
  return "?";
}

Client::Session::Session(Options options, Url url)
    : opts_(std::move(options)), url_(std::move(url)), work_(ioc_.get_executor()),
      reconnect_timer_(ioc_), tick_timer_(ioc_), linger_timer_(ioc_),
      rng_(opts_.seed != 0 ? opts_.seed : std::random_device{}()) {
  connected_ = connected_promise_.get_future().share();
  finished_ = finished_promise_.get_future().share();
  token_ = opts_.token;
  thread_ = std::thread([this] { ioc_.run(); });
}

Client::Session::~Session() { shutdown(); }

void Client::Session::shutdown() {
  if (!thread_.joinable()) return;
  close();
  asio::post(ioc_, [this] { work_.reset(); });
  // (From one of the client's own callbacks this would join itself: documented as not allowed.)
  thread_.join();
}

void Client::Session::add_handler(std::string type, bool every, MessageHandler h) {
  asio::post(ioc_, [this, type = std::move(type), every, h = std::move(h)]() mutable {
    if (every) every_.push_back(std::move(h));
    else by_type_[type].push_back(std::move(h));
  });
}

void Client::Session::add_state_handler(std::function<void(const StateChange&)> h) {
  asio::post(ioc_, [this, h = std::move(h)]() mutable { state_handlers_.push_back(std::move(h)); });
}

void Client::Session::add_removed_handler(std::function<void(const SubscriptionRemoved&)> h) {
  asio::post(ioc_, [this, h = std::move(h)]() mutable { removed_handlers_.push_back(std::move(h)); });
}

void Client::Session::start() {
  asio::post(ioc_, [this] {
    if (started_ || done_) return;
    started_ = true;
    tick();
    set_state(change(State::connecting, "connecting to " + url_.str()));
    dial();
  });
}

void Client::Session::close() {
  asio::post(ioc_, [this] {
    if (done_) return;
    closing_ = true;
    done_ = true;
    reconnect_timer_.cancel();
    tick_timer_.cancel();
    fail_all("closed", "the client was closed");
    if (conn_ && !open_) {  // still dialing: nothing to say goodbye to
      conn_->abort();
      conn_.reset();
    } else if (conn_) {
      conn_->close(1000);
      linger_timer_.expires_after(kCloseLinger);
      linger_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && conn_) {
          conn_->abort();
          conn_.reset();
        }
      });
    }
    set_state(change(State::closed, "closed by the application"));
    if (!connected_settled_) {
      connected_settled_ = true;
      connected_promise_.set_exception(
          std::make_exception_ptr(Error("closed", "the client was closed before connecting")));
    }
    finished_promise_.set_value();
  });
}

Stats Client::Session::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void Client::Session::publish_stats() {
  std::lock_guard lock(stats_mu_);
  stats_.duplicates = router_.duplicates();
  stats_.lost = router_.lost();
  stats_.conflated = router_.conflated();
  stats_.last_alert_id = router_.last_alert_id();
}

// ---- connection life ---------------------------------------------------------------------------

void Client::Session::dial() {
  ++generation_;
  open_ = authenticated_ = false;
  router_.new_connection();
  auto gen = generation_;
  try {
    conn_ = make_ws_connection(ioc_, url_, opts_.tls, opts_.connect_timeout, opts_.compression,
                               opts_.msgpack);
  } catch (const std::exception& e) {  // an unreadable CA file: no retry can fix it
    fatal("tls", e.what());
    return;
  }
  conn_->start([this, gen] { on_open(gen); },
               [this, gen](std::string text) { on_text(gen, std::move(text)); },
               [this, gen](const CloseInfo& info) { on_closed(gen, info); });
}

void Client::Session::on_open(std::uint64_t gen) {
  if (gen != generation_ || done_) return;
  open_ = true;
  opened_at_ = std::chrono::steady_clock::now();
  if (!obtain_token(token_)) return;
  if (opts_.coalesce) {
    // Answered by `hello` (or, by a server without the extension, an unknown_type error): both
    // carry this id and are passed over in on_message.
    conn_->send(encode(
        json::object{{"type", "hello"}, {"features", json::array{"coalesce"}}, {"id", kHelloId}}));
  }
  json::object auth{{"type", "auth"}, {"token", token_}};
  auto id = enqueue(Kind::auth, std::move(auth), nullptr);
  send_pending(id);
}

bool Client::Session::obtain_token(std::string& out) {
  if (!opts_.token_provider) {
    out = opts_.token;
    return true;
  }
  try {
    out = opts_.token_provider();
    return true;
  } catch (const std::exception& e) {
    fatal("token_provider", std::string("the token provider failed: ") + e.what());
  } catch (...) {
    fatal("token_provider", "the token provider failed");
  }
  return false;
}

std::string Client::Session::encode(const json::object& message) const {
  return opts_.msgpack ? codec::to_msgpack(message) : json::serialize(message);
}

void Client::Session::on_text(std::uint64_t gen, std::string text) {
  if (gen != generation_ || done_) return;
  json::value v;
  if (opts_.msgpack) {
    std::string why;
    auto decoded = codec::from_msgpack(text, why);
    if (!decoded) return;  // the server only sends MessagePack here; ignore anything else
    v = std::move(*decoded);
    if (v.is_object()) text = json::serialize(v);  // Message::text is JSON either way
  } else {
    boost::system::error_code ec;
    v = json::parse(text, ec);
    if (ec) return;  // the server only sends JSON; ignore anything else
  }
  if (auto* list = v.if_array()) {
    // A coalesced frame (after hello): its messages in order. A handler may end the
    // connection (close(), a fatal error): the rest then belongs to no one.
    for (auto& e : *list) {
      if (gen != generation_ || done_) return;
      if (auto* o = e.if_object()) {
        std::string element = json::serialize(e);
        on_message(Message{str(*o, "type"), std::move(*o), std::move(element)});
      }
    }
    return;
  }
  if (!v.is_object()) return;
  on_message(Message{str(v.get_object(), "type"), std::move(v.get_object()), std::move(text)});
}

void Client::Session::on_message(Message m) {
  if (auto* id = m.body.if_contains("id"); id && id->is_string() && id->get_string() == kHelloId)
    return;  // hello's answer: nothing to do either way
  if (m.type == "auth_response") return on_auth_response(m);
  if (auto* id = m.body.if_contains("id"); id && id->is_int64() && pending_.count(id->get_int64()))
    return on_reply(id->get_int64(), m);
  // An alert of a subscription with `ack` (an extension, docs/protocol.md "Acknowledged
  // alerts") carries a delivery id: acknowledged once the handlers ran, duplicates (usually a
  // redelivery) included, or the server keeps sending it again.
  std::int64_t delivery = 0;
  if (m.type == "alert")
    if (auto* d = m.body.if_contains("delivery_id"); d && d->is_int64()) delivery = d->get_int64();
  if (router_.judge(m.type, m.body) == Router::Verdict::duplicate) {
    publish_stats();
    if (delivery > 0) acknowledge(delivery);
    return;
  }
  if (m.type == "error") on_removed_by_server(m);
  deliver(m);
  if (delivery > 0) acknowledge(delivery);
  if (m.type == "token_expiring") refresh_token();
}

void Client::Session::acknowledge(std::int64_t delivery_id) {
  // Not a request (the server does not answer an ack): written as it is, on this connection
  // only. Delivery ids belong to the connection; after a drop the resumed replay sends again.
  if (!conn_ || !open_ || !authenticated_) return;
  json::object ack;
  ack["type"] = "ack";
  ack["delivery_id"] = delivery_id;
  conn_->send(encode(ack));
}

void Client::Session::on_auth_response(const Message& m) {
  std::int64_t id = 0;
  if (auto* v = m.body.if_contains("id"); v && v->is_int64()) id = v->get_int64();
  pending_.erase(id);
  bool success = m.body.contains("success") && m.body.at("success") == true;
  deliver(m);
  if (done_) return;
  if (!success) {
    // A refused token never becomes valid by retrying: fatal, whatever the connection state.
    std::string why = str(m.body, "error");
    std::string text = str(m.body, "message");
    fatal("auth_failed", "authentication failed: " + (why.empty() ? "refused" : why) +
                             (text.empty() ? "" : " (" + text + ")"));
    return;
  }
  if (!authenticated_) on_authenticated(m);
}

void Client::Session::on_authenticated(const Message& m) {
  authenticated_ = true;
  attempts_ = 0;
  last_keepalive_ = std::chrono::steady_clock::now();
  keepalive_id_ = 0;
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.connections;
  }
  AuthInfo info{str(m.body, "user"), str(m.body, "role"), str(m.body, "expires_at")};
  std::string detail = (ever_connected_ ? "reconnected to " : "connected to ") + url_.str() +
                       " as " + info.user + " (" + info.role + ")";
  bool restoring = ever_connected_ && !subs_.empty();
  ever_connected_ = true;
  restore_subscriptions();
  flush_unsent();
  if (restoring) detail += ", restoring " + std::to_string(subs_.size()) + " subscription(s)";
  set_state(change(State::connected, detail));
  if (!connected_settled_) {
    connected_settled_ = true;
    connected_promise_.set_value(info);
  }
}

void Client::Session::refresh_token() {
  if (!opts_.token_provider || !authenticated_) return;
  std::string fresh;
  if (!obtain_token(fresh)) return;
  if (fresh == token_) return;  // nothing new to present; the server will close at expiry
  token_ = fresh;
  auto id = enqueue(Kind::auth, json::object{{"type", "auth"}, {"token", token_}}, nullptr);
  send_pending(id);
}

void Client::Session::restore_subscriptions() {
  std::optional<std::int64_t> resume;
  if (opts_.resume_alerts && resume_supported_ && router_.last_alert_id() > 0)
    resume = router_.last_alert_id();
  auto msgs = subs_.restore_messages(resume);
  // Batches of at most 50 (the server's limits.max_batch): one rate-limit token per batch.
  constexpr std::size_t kMaxBatch = 50;
  for (std::size_t i = 0; i < msgs.size(); i += kMaxBatch) {
    std::size_t n = std::min(kMaxBatch, msgs.size() - i);
    if (n == 1) {
      send_pending(enqueue(Kind::restore, std::move(msgs[i]), nullptr));
      continue;
    }
    std::vector<json::object> part(std::make_move_iterator(msgs.begin() + i),
                                   std::make_move_iterator(msgs.begin() + i + n));
    json::object b{{"type", "batch"}};
    auto bid = enqueue(Kind::batch, std::move(b), nullptr, 0, true);
    json::array arr;
    for (auto& m : part) {
      auto id = enqueue(Kind::restore, m, nullptr, bid);
      m["id"] = id;
      pending_[bid].parts.push_back(id);
      arr.push_back(std::move(m));
    }
    pending_[bid].request["messages"] = std::move(arr);
    send_pending(bid);
  }
}

void Client::Session::on_closed(std::uint64_t gen, const CloseInfo& info) {
  if (gen != generation_) return;
  conn_.reset();
  linger_timer_.cancel();
  open_ = authenticated_ = false;
  if (done_) return;
  if (info.code == 4001 || info.code == 4029) {
    fatal("auth_failed", "authentication failed: " + info.error);
    return;
  }
  drop(info.error);
}

// The connection is gone (closed, failed, or judged dead): forget what belonged to it, keep
// the application's requests for the next one, and reconnect.
void Client::Session::drop(const std::string& why) {
  if (conn_) {
    conn_->abort();
    conn_.reset();
  }
  open_ = authenticated_ = false;
  // The session's own requests (auth, keepalive, restores) are redone by the next connection;
  // the application's are sent again as they were.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.internal) {
      it = pending_.erase(it);
    } else {
      it->second.sent_on = 0;
      ++it;
    }
  }
  if (!opts_.reconnect) {
    fatal("disconnected", "connection lost: " + why);
    return;
  }
  schedule_reconnect(why);
}

void Client::Session::schedule_reconnect(const std::string& why) {
  if (backoff_exhausted(opts_.backoff, attempts_)) {
    fatal("gave_up", "gave up after " + std::to_string(attempts_) + " reconnect attempt(s): " + why);
    return;
  }
  ++attempts_;
  auto delay = backoff_delay(opts_.backoff, attempts_ - 1, rng_);
  set_state(change(State::reconnecting, why, attempts_, delay));
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || done_) return;
    set_state(change(State::connecting, "connecting to " + url_.str()));
    dial();
  });
}

void Client::Session::tick() {
  if (done_) return;
  auto now = std::chrono::steady_clock::now();
  // Requests past their deadline fail with "timeout" (parts of a batch fail one by one).
  std::vector<std::int64_t> expired;
  for (const auto& [id, p] : pending_)
    if (p.done && p.deadline != SteadyTime{} && now >= p.deadline) expired.push_back(id);
  for (auto id : expired) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending p = std::move(it->second);
    pending_.erase(it);
    complete(id, std::move(p), Reply{{}, "timeout", "no reply within the request timeout"});
  }
  if (done_) return;
  if (conn_ && open_ && !authenticated_ && now - opened_at_ > opts_.connect_timeout) {
    drop("no auth_response within " + std::to_string(opts_.connect_timeout.count()) + " ms");
  } else if (authenticated_ && opts_.ping_interval.count() > 0 &&
             now - last_keepalive_ >= opts_.ping_interval) {
    if (keepalive_id_ != 0 && pending_.count(keepalive_id_)) {
      drop("no pong within " + std::to_string(opts_.ping_interval.count()) + " ms");
    } else {
      last_keepalive_ = now;
      keepalive_id_ = enqueue(Kind::keepalive, json::object{{"type", "ping"}}, nullptr);
      send_pending(keepalive_id_);
    }
  }
  if (done_) return;
  tick_timer_.expires_after(kTick);
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

// ---- delivery and state ------------------------------------------------------------------------

void Client::Session::deliver(const Message& m) {
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.delivered;
  }
  publish_stats();
  // An exception thrown by application code must not unwind through the I/O loop (it would
  // stop the client); it is swallowed here, as documented in docs/clients/cpp.md.
  auto call = [&](const MessageHandler& h) {
    try {
      h(m);
    } catch (...) {
    }
  };
  for (const auto& h : every_) call(h);
  if (auto it = by_type_.find(m.type); it != by_type_.end())
    for (const auto& h : it->second) call(h);
}

void Client::Session::on_removed_by_server(const Message& m) {
  // After a token refresh, one `forbidden` per subscription the new claims no longer cover,
  // without id and naming it (docs/protocol.md, "Token refresh"); device_id null: the
  // every-device key (and system).
  if (auto* id = m.body.if_contains("id"); id && !id->is_null()) return;
  auto* channel = m.body.if_contains("channel");
  if (!channel || !channel->is_string() || str(m.body, "error") != "forbidden") return;
  std::optional<std::int64_t> device;
  if (auto* d = m.body.if_contains("device_id"); d && d->is_int64()) device = d->get_int64();
  forget_subscription(std::string(channel->get_string()), device, "token_refresh",
                      str(m.body, "error"), str(m.body, "message"));
}

void Client::Session::forget_subscription(const std::string& channel,
                                          std::optional<std::int64_t> device,
                                          const std::string& reason, const std::string& error,
                                          const std::string& message) {
  subs_.remove(channel, device.value_or(0));  // device 0: the every-device key
  SubscriptionRemoved r{channel, device, reason, error, message};
  for (const auto& h : removed_handlers_) {
    try {
      h(r);
    } catch (...) {
    }
  }
}

void Client::Session::set_state(StateChange c) {
  state_.store(c.state);
  for (const auto& h : state_handlers_) {
    try {
      h(c);
    } catch (...) {
    }
  }
}

void Client::Session::fatal(const std::string& code, const std::string& message) {
  if (done_) return;
  done_ = true;
  reconnect_timer_.cancel();
  tick_timer_.cancel();
  if (conn_) {
    conn_->abort();
    conn_.reset();
  }
  fail_all("closed", message);
  StateChange failed = change(State::failed, message);
  failed.error = code;
  set_state(failed);
  auto err = std::make_exception_ptr(Error(code, message));
  if (!connected_settled_) {
    connected_settled_ = true;
    connected_promise_.set_exception(err);
  }
  finished_promise_.set_exception(err);
}

}  // namespace valtronics::client
