// WebSocket session: protocol state machine, limits and delivery. See ws_session.hpp.
#include "net/ws_session.hpp"

#include <algorithm>
#include <limits>
#include <utility>
#include <sys/socket.h>
#include <sys/uio.h>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "engine/engine.hpp"
#include "net/exact_allocator.hpp"
#include "protocol/parse.hpp"
#include "protocol/serialize.hpp"

namespace valtronics::net {

namespace asio = boost::asio;
using boost::system::error_code;
using protocol::Channel;
using protocol::ErrorCode;
using protocol::ws::Opcode;
using Steady = std::chrono::steady_clock;
namespace close_code = protocol::close_code;

namespace {
// Frames per socket write: enough to amortize the syscall, few enough to bound the iovec array
// (three buffers a frame: header, payload, seq suffix; IOV_MAX is 1024).
constexpr std::size_t kMaxFramesPerWrite = 256;
// How many times a flush steps aside for events already queued behind it.
constexpr int kMaxFlushDeferrals = 16;
// Live events held per channel while a snapshot or replay is on its way; a client whose
// catch-up takes longer than this many events is told to reconnect (4009).
constexpr std::size_t kMaxHeldEvents = 100'000;
// Requests waiting for a catch-up to finish (the rate limit keeps this far from reached).
constexpr std::size_t kMaxDeferredRequests = 1'000;
// How long a closing connection waits for the peer's close frame / EOF before dropping it.
constexpr auto kCloseLinger = std::chrono::seconds(2);

// Live state changes of alerts that no alerts subscription's cover explains, remembered per
// connection so that a replay does not send them again (older ones are forgotten first).
constexpr std::size_t kMaxOtherSentAlerts = 1'000;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return v.empty() || std::find(v.begin(), v.end(), s) != v.end();
}

void raise_to(std::atomic<std::int64_t>& a, std::int64_t v) {
  auto cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// Claims that see every device: admins, operators, and users or analysts with "devices": "*".
bool sees_every_device(const auth::Claims& c) {
  return c.role == auth::Role::admin || c.role == auth::Role::operator_ ||
         (c.role != auth::Role::device && c.all_devices);
}

// May `now` see a device that `before` could not?
bool sees_more(const auth::Claims& now, const auth::Claims& before) {
  if (sees_every_device(before) || now.role == auth::Role::device) return false;
  if (sees_every_device(now)) return true;
  if (before.role == auth::Role::device) return !now.devices.empty();
  return !std::includes(before.devices.begin(), before.devices.end(), now.devices.begin(),
                        now.devices.end());
}
}  // namespace

WsSession::WsSession(asio::ip::tcp::socket socket, Worker& worker, ServerContext& ctx,
                     Options opts)
    : socket_(std::move(socket)),
      worker_(worker),
      ctx_(ctx),
      opts_(std::move(opts)),
      reader_(std::max(ctx.cfg.limits.max_batch_bytes, ctx.cfg.limits.max_message_bytes)),
      out_(ctx.cfg.limits.max_outbound_bytes),
      rate_(ctx.cfg.limits.messages_per_second, ctx.cfg.limits.flood_close_after, Steady::now()),
      opened_at_(Steady::now()) {}

WsSession::~WsSession() { finish(); }

void WsSession::start(std::string early_bytes, std::optional<std::string> header_token) {
  worker_.sessions.insert(this);
  // TCP_NODELAY comes from the listening socket (Linux copies it to accepted ones), and reads and
  // writes pass MSG_DONTWAIT: no per-connection setsockopt or ioctl (connection set-up is ~20
  // syscalls, each one counts; docs/benchmarks.md).
  if (!early_bytes.empty()) reader_.append(early_bytes.data(), early_bytes.size());
  if (header_token) {
    protocol::Request req{std::nullopt, protocol::AuthRequest{std::move(*header_token)}};
    execute(req);
  }
  if (!claims_ && state_ == State::open)
    set_deadline(Phase::auth, Steady::now() + ctx_.cfg.auth.auth_timeout);
  if (drain_frames()) do_read();
}

// ---------------------------------------------------------------------------------- reading

void WsSession::do_read() {
  // Wait for readability, then read into the worker's shared buffer: an idle connection holds
  // no read buffer of its own. The wait, pending for most of an idle connection's life, gets a
  // block of its own size (see exact_allocator.hpp).
  socket_.async_wait(asio::ip::tcp::socket::wait_read,
                     asio::bind_allocator(ExactAllocator<void>(),
                                          [self = shared_from_this()](error_code ec) {
                                            self->on_readable(ec);
                                          }));
}

void WsSession::on_readable(error_code ec) {
  if (ec) {
    finish();
    return;
  }
  auto& buf = worker_.read_buffer;
  for (;;) {
    const std::size_t n = receive_now(buf.data(), buf.size(), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) {
      // EOF or reset: the peer is gone (or finished the close handshake we started).
      finish();
      return;
    }
    if (state_ == State::closing) continue;  // discard everything until the peer closes
    reader_.append(buf.data(), n);
    if (!drain_frames()) return;
    if (n < buf.size()) break;  // the kernel had no more: wait again rather than spin
  }
  reader_.release_idle();  // between messages an idle connection keeps no read buffer
  do_read();
}

bool WsSession::drain_frames() {
  using Kind = protocol::ws::ReadResult::Kind;
  while (state_ == State::open) {
    auto r = reader_.next();
    if (r.kind == Kind::need_more) return true;
    if (r.kind == Kind::error) {
      close(r.close_code, r.reason);
      break;
    }
    switch (r.opcode) {
      case Opcode::text:
        on_text(r.payload);
        break;
      case Opcode::binary:
        ctx_.registry.count_received();
        send(protocol::error(std::nullopt, ErrorCode::invalid_message,
                             "binary frames are not supported: send JSON in text frames"));
        break;
      case Opcode::ping:
        if (!out_.push_reliable(std::make_shared<const std::string>(r.payload), Opcode::pong))
          close(close_code::slow_consumer, "outbound queue full");
        else
          do_write();
        break;
      case Opcode::close: {
        peer_closed_ = true;
        std::uint16_t code = close_code::normal;
        std::string reason;
        protocol::ws::parse_close_payload(r.payload, code, reason);
        // Echo the peer's code, as RFC 6455 asks; 1005 (no code) is answered with 1000.
        close(code == 1005 ? close_code::normal : code, "");
        break;
      }
      default:  // pong, continuation (never returned alone)
        break;
    }
  }
  return state_ == State::closing;  // keep reading to see the peer's close / EOF
}

void WsSession::log_in(std::string_view type, std::size_t size, std::optional<Channel> ch) {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  spdlog::debug("ws in  peer={} type={} size={} channel={}", opts_.peer, type, size,
                ch ? protocol::to_string(*ch) : "-");
}

void WsSession::log_out(std::string_view type, std::size_t size, std::optional<Channel> ch) {
  spdlog::debug("ws out peer={} type={} size={} channel={}", opts_.peer, type, size,
                ch ? protocol::to_string(*ch) : "-");
}

void WsSession::on_text(std::string_view text) {
  ctx_.registry.count_received();
  const auto& limits = ctx_.cfg.limits;
  if (text.size() > limits.max_message_bytes && !protocol::is_batch_frame(text)) {
    close(close_code::too_big, "message exceeds max_message_bytes (" +
                                   std::to_string(limits.max_message_bytes) + ")");
    return;
  }
  switch (rate_.on_message(Steady::now())) {
    case auth::MessageRateGuard::Verdict::allow:
      break;
    case auth::MessageRateGuard::Verdict::reject:
      send(protocol::error(std::nullopt, ErrorCode::rate_limited,
                           "more than " + std::to_string(int(limits.messages_per_second)) +
                               " messages per second: message dropped"));
      return;
    case auth::MessageRateGuard::Verdict::close:
      close(close_code::rate_limit_abuse, "message rate limit exceeded for too long");
      return;
  }
  auto parsed = protocol::parse_request(text, ctx_.parse_options);
  if (!parsed) {
    log_in("invalid", text.size(), std::nullopt);
    std::variant<protocol::Request, protocol::ProtocolError> item = parsed.error();
    if (defer_if_catching_up(item)) return;
    send(protocol::error(parsed.error().id, parsed.error().code, parsed.error().message));
    return;
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    static constexpr std::string_view kTypes[] = {"auth", "subscribe", "unsubscribe", "ping", "batch"};
    std::optional<Channel> ch;
    if (auto* s = std::get_if<protocol::SubscribeRequest>(&parsed->body)) ch = s->channel;
    if (auto* u = std::get_if<protocol::UnsubscribeRequest>(&parsed->body)) ch = u->channel;
    log_in(kTypes[parsed->body.index()], text.size(), ch);
  }
  std::variant<protocol::Request, protocol::ProtocolError> item = std::move(*parsed);
  if (defer_if_catching_up(item)) return;
  execute(std::get<protocol::Request>(item));
}

void WsSession::execute(protocol::Request& req) {
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, protocol::AuthRequest>) {
          handle_auth(req, body);
        } else if constexpr (std::is_same_v<T, protocol::PingRequest>) {
          send(protocol::pong(req.id, body.timestamp, util::Clock::now()));
        } else {
          if (!claims_) {
            send(protocol::error(req.id, ErrorCode::not_authenticated,
                                 "authenticate first: send {\"type\":\"auth\",\"token\":...}"));
            return;
          }
          if constexpr (std::is_same_v<T, protocol::SubscribeRequest>) {
            handle_subscribe(req, body);
          } else if constexpr (std::is_same_v<T, protocol::UnsubscribeRequest>) {
            handle_unsubscribe(req, body);
          } else {
            handle_batch(req, body);
          }
        }
      },
      req.body);
}

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
                             std::string(protocol::to_string(*opts_.endpoint_channel)) +
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
        "the new token does not cover the " + std::string(protocol::to_string(k.channel)) +
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
                             std::string(protocol::to_string(*opts_.endpoint_channel)) +
                             " channel; use /ws for every channel"));
    return;
  }
  if (!auth::may_subscribe(*claims_, s.channel)) {
    send(protocol::error(req.id, ErrorCode::forbidden,
                         "role '" + std::string(auth::to_string(claims_->role)) +
                             "' may not subscribe to " + std::string(protocol::to_string(s.channel))));
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
        back([self, id, filters](engine::Engine::Snapshot<hub::TelemetryEvent> snap) {
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
        back([self, id, filters](engine::Engine::Snapshot<hub::DeviceStatusEvent> snap) {
          self->send(protocol::subscribed(id, Channel::devices, filters));
          for (auto& st : snap.items) {
            hub::Event e;
            e.channel = Channel::devices;
            e.body = std::move(st);
            self->send_update(std::make_shared<const std::string>(protocol::serialize_event(e)),
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
          engine::Replay r) mutable {  // engine or writer thread -> this session's thread
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
                                engine::Replay r) {
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
      const auto& a = std::get<hub::AlertEvent>(e->body);
      if (engine::alert_status_rank(a.status) == 0) last = std::min(last, a.alert_id - 1);
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
bool WsSession::alert_already_sent(const engine::Alert& a, const std::vector<AlertCover>& cover) const {
  for (const auto& c : cover) {
    if ((c.device == hub::kAllDevices || c.device == a.device_id) && a.id > c.start &&
        contains(c.severities, a.severity) && contains(c.alert_types, a.alert_type))
      return true;
  }
  if (!alerts_) return false;
  auto it = alerts_->other_sent.find(a.id);
  return it != alerts_->other_sent.end() && it->second >= engine::alert_status_rank(a.status);
}

void WsSession::note_alert_sent(const hub::AlertEvent& a) {
  if (!alerts_) return;
  for (const auto& [device, start] : alerts_->starts) {
    if ((device != hub::kAllDevices && device != a.device_id) || a.alert_id <= start) continue;
    auto it = subs_.find({Channel::alerts, device});
    if (it != subs_.end() && contains(it->second.severities, a.severity) &&
        contains(it->second.alert_types, a.alert_type))
      return;  // within a cover
  }
  auto& rank = alerts_->other_sent[a.alert_id];
  rank = std::max(rank, engine::alert_status_rank(a.status));
  if (alerts_->other_sent.size() > kMaxOtherSentAlerts)
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
    e.body = engine::to_alert_event(a);
    r.sent[a.id] = engine::alert_status_rank(a.status);
    send_update(std::make_shared<const std::string>(protocol::serialize_event(e)), Channel::alerts);
  }
  if (r.next < r.alerts.size() || state_ != State::open) return;
  // Every alert committed before the query was published before the reply came, so it is
  // among the held ones: skip those the replay already sent at the same or a later state.
  auto sent = std::move(r.sent);
  replay_.reset();
  finish_catch_up(Channel::alerts, [&sent](const hub::Event& e) {
    const auto& a = std::get<hub::AlertEvent>(e.body);
    auto it = sent.find(a.alert_id);
    return it != sent.end() && it->second >= engine::alert_status_rank(a.status);
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
  if (deferred_.size() >= kMaxDeferredRequests) {
    close(close_code::slow_consumer, "too many requests while catching up");
    return true;
  }
  deferred_.push_back(std::move(item));
  return true;
}

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
  const auto* alert = std::get_if<hub::AlertEvent>(&event->body);
  if (alert && alerts_) raise_to(*alerts_->newest, alert->alert_id);
  if (event->channel != Channel::system && !auth::may_see_device(*claims_, device)) return;
  if (held_ && held(event->channel).active) {
    // A snapshot or replay of this channel is on its way: live events wait behind it.
    auto& h = held(event->channel);
    if (h.events.size() >= kMaxHeldEvents) {
      close(close_code::slow_consumer, "too many events while replaying: reconnect to resume");
      return;
    }
    h.events.push_back(event);
    return;
  }

  if (const auto* t = std::get_if<hub::TelemetryEvent>(&event->body)) {
    deliver_telemetry(*event, *t, cache);
    return;
  }
  // Does any subscription of this channel, for this device or for all, accept the event?
  const protocol::Filters* match = nullptr;
  for (auto it = subs_.lower_bound({event->channel, hub::kAllDevices});
       it != subs_.end() && it->first.channel == event->channel && !match; ++it) {
    if (it->first.device != hub::kAllDevices && it->first.device != device) continue;
    const auto& f = it->second;
    if (const auto* a = std::get_if<hub::AlertEvent>(&event->body)) {
      if (contains(f.severities, a->severity) && contains(f.alert_types, a->alert_type)) match = &f;
    } else if (const auto* s = std::get_if<hub::DeviceStatusEvent>(&event->body)) {
      if (contains(f.status_types, s->new_status)) match = &f;
    } else {
      match = &f;
    }
  }
  if (!match) return;

  if (const auto* sys = std::get_if<hub::SystemEvent>(&event->body)) {
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

void WsSession::deliver_telemetry(const hub::Event& event, const hub::TelemetryEvent& t,
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
  std::vector<hub::MetricReading> projected;
  for (const auto& r : t.readings)
    if (std::binary_search(metrics.begin(), metrics.end(), r.name)) projected.push_back(r);
  out_.push_telemetry(*bytes, t.device_id, projected, next_seq(Channel::telemetry));
  do_write();
}

void WsSession::deliver_throttled(std::int64_t device, std::span<const hub::MetricReading> readings,
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
  std::vector<hub::MetricReading> latest;
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

// ---------------------------------------------------------------------------------- writing

void WsSession::send(std::string json) {
  if (state_ != State::open) return;
  if (spdlog::should_log(spdlog::level::debug)) {
    // Replies start with {"type":"<name>": take the name without parsing.
    auto start = json.find(":\"") + 2, end = json.find('"', start);
    log_out(std::string_view(json).substr(start, end - start), json.size(), std::nullopt);
  }
  send_reliable(std::make_shared<const std::string>(std::move(json)));
}

void WsSession::send_reliable(const Bytes& bytes) {
  if (state_ != State::open) return;
  if (!out_.push_reliable(bytes)) {
    close(close_code::slow_consumer,
          "outbound queue full (max_outbound_bytes): reconnect to resume");
    return;
  }
  do_write();
}

void WsSession::send_update(const Bytes& bytes, Channel channel) {
  if (state_ != State::open) return;
  if (!out_.push_update(bytes, next_seq(channel))) {
    close(close_code::slow_consumer,
          "outbound queue full (max_outbound_bytes): reconnect to resume");
    return;
  }
  do_write();
}

std::size_t WsSession::receive_now(char* data, std::size_t size, error_code& ec) {
  for (;;) {
    const ssize_t n = ::recv(socket_.native_handle(), data, size, MSG_DONTWAIT);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) {
      ec = asio::error::eof;
      return 0;
    }
    if (errno == EINTR) continue;
    ec = error_code(errno, asio::error::get_system_category());
    return 0;
  }
}

std::size_t WsSession::send_now(const std::vector<asio::const_buffer>& bufs, error_code& ec) {
  auto& iov = worker_.write_iov;
  iov.resize(bufs.size());
  for (std::size_t i = 0; i < bufs.size(); ++i)
    iov[i] = {const_cast<void*>(bufs[i].data()), bufs[i].size()};
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  for (;;) {
    const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    ec = error_code(errno, asio::error::get_system_category());
    return 0;
  }
}

void WsSession::do_write() {
  // Cork: frames queued during this loop turn (every event of the turn, every reply of a batch)
  // leave in one write, issued after the turn's other handlers ran.
  if (writing_ || flush_pending_ || out_.empty() || state_ == State::closed) return;
  flush_pending_ = true;
  worker_.dirty.push_back(shared_from_this());
  if (worker_.flush_posted) return;
  worker_.flush_posted = true;
  post_flush(worker_, 0);
}

void WsSession::post_flush(Worker& w, int deferrals) {
  asio::post(w.ioc, [&w, deferrals] {
    // More events already wait for this thread (the server is behind): let them queue their
    // frames first, so each connection gets one write for all of them. Bounded, so a steady
    // stream of events cannot hold writes back for long.
    if (deferrals < kMaxFlushDeferrals && w.shard->pending() > 0) {
      post_flush(w, deferrals + 1);
      return;
    }
    w.flush_posted = false;
    auto dirty = std::move(w.dirty);
    w.dirty.clear();
    for (auto& s : dirty) {
      s->flush_pending_ = false;
      s->write_now();
    }
  });
}

void WsSession::write_now() {
  if (writing_ || state_ == State::closed) return;
  while (!out_.empty()) {
    auto& bufs = worker_.write_scratch;
    bufs.clear();
    out_.gather(bufs, kMaxFramesPerWrite);
    error_code ec;
    const std::size_t n = send_now(bufs, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      // The socket buffer is full: wait until the peer has read some.
      writing_ = true;
      socket_.async_wait(asio::ip::tcp::socket::wait_write,
                         [self = shared_from_this()](error_code ec) { self->on_writable(ec); });
      return;
    }
    if (ec) {
      error_code ignored;
      socket_.close(ignored);  // the pending wait fails and calls finish()
      return;
    }
    ctx_.registry.count_sent(out_.consumed_bytes(n));
    if (replay_ && out_.queued_bytes() < ctx_.cfg.limits.max_outbound_bytes / 4) pump_replay();
  }
  if (state_ == State::closing) {
    error_code ignored;
    if (peer_closed_)
      // Our close frame answered the peer's: the handshake is complete, and RFC 6455 (7.1.1)
      // has the server close the TCP connection first. The pending read fails and finishes us.
      socket_.close(ignored);
    else
      // Our close frame is out: half-close and wait (bounded) for the peer to finish.
      socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }
}

void WsSession::on_writable(error_code ec) {
  writing_ = false;
  if (ec) {
    error_code ignored;
    socket_.close(ignored);
    return;
  }
  write_now();
}

void WsSession::close(std::uint16_t code, std::string reason) {
  if (state_ != State::open) return;
  spdlog::debug("ws close peer={} code={} reason={}", opts_.peer, code, reason);
  // The close frame goes out even when the queue is full: it is the last frame ever queued.
  out_.push_final(std::make_shared<const std::string>(protocol::ws::close_payload(code, reason)),
                  Opcode::close);
  state_ = State::closing;
  if (throttle_timer_) throttle_timer_->cancel();
  // The deadline now bounds the close (replacing the auth or token wait).
  set_deadline(Phase::close_linger, Steady::now() + kCloseLinger);
  do_write();
}

void WsSession::finish() {
  if (finished_) return;
  finished_ = true;
  state_ = State::closed;
  for (const auto& [k, f] : subs_) worker_.shard->remove(this, k.channel, k.device);
  subs_.clear();
  worker_.sessions.erase(this);
  if (!counted_user_.empty()) ctx_.registry.remove_user(counted_user_);
  counted_user_.clear();
  ctx_.registry.close(Steady::now() - opened_at_);
  error_code ignored;
  set_deadline(Phase::none, {});
  if (throttle_timer_) throttle_timer_->cancel();
  socket_.close(ignored);
}

}  // namespace valtronics::net
