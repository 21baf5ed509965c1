// The connection core: its life (start, close, finish), frames in, requests dispatched, frames
// out, and its deadlines. Auth and subscriptions are in subscriptions.cpp, catch-up in
// catch_up.cpp, delivery of hub events in delivery.cpp.
#include "session/connection.hpp"

#include <algorithm>
#include <utility>
#include <spdlog/spdlog.h>

#include "codec/msgpack_json.hpp"
#include "config/limits.hpp"
#include "metrics/counters.hpp"
#include "protocol/errors.hpp"

namespace valtronics::session {

using model::Channel;
using protocol::ErrorCode;
using protocol::ws::Opcode;
namespace close_code = protocol::close_code;

Connection::Connection(Host& host, const Context& ctx, hub::Shard& shard, Options opts)
    : host_(host),
      ctx_(ctx),
      shard_(shard),
      opts_(std::move(opts)),
      reader_(std::max(ctx.cfg.limits.max_batch_bytes, ctx.cfg.limits.max_message_bytes)),
      out_(ctx.cfg.limits.max_outbound_bytes),
      rate_(ctx.cfg.limits.messages_per_second, ctx.cfg.limits.flood_close_after,
            ctx.steady_now()),
      control_rate_(ctx.cfg.limits.control_frames_per_second, ctx.cfg.limits.flood_close_after,
                    ctx.steady_now()),
      opened_at_(ctx.steady_now()),
      last_heard_(opened_at_) {
  if (opts_.deflate_window_bits != 0) {
    reader_.accept_compressed();
    out_.compress_with(opts_.deflate_window_bits, ctx.cfg.server.deflate_min_bytes);
  }
  if (opts_.msgpack) out_.encode_msgpack();
  timers_.fill(SteadyTime::max());
}

Connection::~Connection() { finish(); }

void Connection::start(std::string_view early_bytes, std::optional<std::string> header_token) {
  if (!early_bytes.empty()) reader_.append(early_bytes.data(), early_bytes.size());
  if (header_token) {
    protocol::Request req{std::nullopt, protocol::AuthRequest{std::move(*header_token)}};
    execute(req);
  }
  const auto now = ctx_.steady_now();
  if (!claims_ && state_ == State::open) {
    phase_ = Phase::auth;
    set_timer(Timer::phase, now + ctx_.cfg.auth.auth_timeout);
  }
  arm_keepalive(now);
  drain_frames();
}

// ------------------------------------------------------------------------------------ reading

void Connection::on_bytes(const char* data, std::size_t size) {
  if (state_ != State::open) return;  // closing: only the peer's EOF matters now
  last_heard_ = ctx_.steady_now();
  ping_outstanding_ = false;
  metrics::add(metrics::slot::bytes_in, size);
  reader_.append(data, size);
  drain_frames();
  if (state_ == State::open) reader_.release_idle();  // an idle connection keeps no read buffer
}

void Connection::drain_frames() {
  using Kind = protocol::ws::ReadResult::Kind;
  while (state_ == State::open) {
    auto r = reader_.next();
    if (r.kind == Kind::need_more) return;
    if (r.kind == Kind::error) {
      // Malformed framing, invalid UTF-8, oversized messages: nothing more it sends is read.
      close_for_abuse(r.close_code, r.reason);
      return;
    }
    switch (r.opcode) {
      case Opcode::text:
        on_text(r.payload);
        break;
      case Opcode::binary:
        on_binary(r.payload);
        break;
      case Opcode::ping:
      case Opcode::pong:
        on_control(r.opcode, r.payload);
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
      default:  // continuation (never returned alone)
        break;
    }
  }
}

void Connection::on_control(Opcode opcode, std::string_view payload) {
  // Control frames are rate limited like messages, with their own bucket: within the rate a
  // ping is answered, beyond it the frame is ignored, and a peer still over it after
  // limits.flood_close_after is closed with 4008 (the message flood's rule and code).
  switch (control_rate_.on_message(ctx_.steady_now())) {
    case auth::MessageRateGuard::Verdict::allow:
      break;
    case auth::MessageRateGuard::Verdict::reject:
      metrics::add(metrics::at(metrics::slot::rate_limit_hits, metrics::RateLimit::control_frames));
      return;
    case auth::MessageRateGuard::Verdict::close:
      close_for_flood("control frame (ping/pong) rate limit exceeded for too long");
      return;
  }
  if (opcode != Opcode::ping) return;  // a pong: its bytes already counted as liveness
  // RFC 6455 (5.5.3) allows answering only the most recent ping: while a pong waits in the
  // queue, a newer ping is only remembered (one payload, at most 125 bytes) and answered once
  // the queue drained. A peer that pings and never reads costs one queued pong, not one per ping.
  if (pong_in_queue_) {
    unanswered_ping_ = std::string(payload);
    return;
  }
  queue_pong(std::string(payload));
}

void Connection::on_text(std::string_view text) {
  const auto& limits = ctx_.cfg.limits;
  const bool batch = text.size() > limits.max_message_bytes && protocol::is_batch_frame(text);
  if (!admit(text.size(), batch)) return;
  handle(protocol::parse_request(text, ctx_.parse_options), text.size());
}

void Connection::on_binary(std::string_view data) {
  if (!opts_.msgpack) {
    // Without the valtronics.msgpack subprotocol every message is JSON text (RFC 6455 7.4.1:
    // 1003, a type of data it cannot accept).
    ctx_.registry.count_received();
    metrics::add(metrics::slot::messages_in + metrics::in_index(metrics::InType::binary));
    close_for_abuse(close_code::unsupported_data,
                    "binary frames need the valtronics.msgpack subprotocol: send JSON in text "
                    "frames");
    return;
  }
  // A MessagePack message is read as the JSON value it holds; the limits count its own bytes.
  // As for JSON, it is decoded before the rate limit only when over max_message_bytes (to see
  // whether it is a batch, which max_batch_bytes bounds instead).
  std::string why;
  std::optional<boost::json::value> value;
  bool batch = false;
  const bool big = data.size() > ctx_.cfg.limits.max_message_bytes;
  if (big) {
    value = codec::from_msgpack(data, why);
    const auto* type = value && value->is_object() ? value->get_object().if_contains("type")
                                                   : nullptr;
    batch = type && type->is_string() && type->get_string() == "batch";
  }
  if (!admit(data.size(), batch)) return;
  if (!big) value = codec::from_msgpack(data, why);
  if (!value) {
    handle(protocol::ProtocolError{ErrorCode::invalid_json, "not valid MessagePack: " + why,
                                   std::nullopt},
           data.size());
    return;
  }
  handle(protocol::parse_request_value(*value, ctx_.parse_options), data.size());
}

bool Connection::admit(std::size_t size, bool batch) {
  ctx_.registry.count_received();
  const auto& limits = ctx_.cfg.limits;
  if (size > limits.max_message_bytes && !batch) {
    close_for_abuse(close_code::too_big, "message exceeds max_message_bytes (" +
                                   std::to_string(limits.max_message_bytes) + ")");
    return false;
  }
  switch (rate_.on_message(ctx_.steady_now())) {
    case auth::MessageRateGuard::Verdict::allow:
      return true;
    case auth::MessageRateGuard::Verdict::reject:
      metrics::add(metrics::at(metrics::slot::rate_limit_hits, metrics::RateLimit::messages));
      ctx_.abuse.limit_violation(opts_.peer, "limits.messages_per_second", ctx_.steady_now());
      send(protocol::error(std::nullopt, ErrorCode::rate_limited,
                           "more than " + std::to_string(int(limits.messages_per_second)) +
                               " messages per second: message dropped"));
      return false;
    case auth::MessageRateGuard::Verdict::close:
      close_for_flood("message rate limit exceeded for too long");
      return false;
  }
  return false;
}

void Connection::handle(boost::system::result<protocol::Request, protocol::ProtocolError> parsed,
                        std::size_t size) {
  {
    // By type (the order of protocol::Request's body), and channel for (un)subscribe.
    using metrics::InType;
    static constexpr std::string_view kTypes[] = {"auth", "subscribe", "unsubscribe", "ping",
                                                  "batch", "ack", "hello"};
    static constexpr InType kInTypes[] = {InType::auth,  InType::subscribe, InType::unsubscribe,
                                          InType::ping,  InType::batch,     InType::ack,
                                          InType::hello};
    std::optional<Channel> ch;
    if (parsed) {
      if (auto* s = std::get_if<protocol::SubscribeRequest>(&parsed->body)) ch = s->channel;
      if (auto* u = std::get_if<protocol::UnsubscribeRequest>(&parsed->body)) ch = u->channel;
    }
    const InType type = parsed ? kInTypes[parsed->body.index()] : InType::invalid;
    metrics::add(metrics::slot::messages_in +
                 metrics::in_index(type, ch ? static_cast<std::size_t>(*ch) : 0));
    if (spdlog::should_log(spdlog::level::debug))
      log_in(parsed ? kTypes[parsed->body.index()] : "invalid", size, ch);
  }
  Item item = parsed ? Item(std::move(*parsed)) : Item(parsed.error());
  // Acks are not held behind a catch-up: a replay with `ack` waits for them (pump_replay).
  const bool is_ack = parsed && std::holds_alternative<protocol::AckRequest>(parsed->body);
  if (!is_ack && defer_if_catching_up(item)) return;
  run(item);
}

void Connection::run(Item& item) {
  if (auto* req = std::get_if<protocol::Request>(&item)) {
    execute(*req);
    return;
  }
  const auto& err = std::get<protocol::ProtocolError>(item);
  send(protocol::error(err.id, err.code, err.message));
}

void Connection::execute(protocol::Request& req) {
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, protocol::AuthRequest>) {
          handle_auth(req, body);
        } else if constexpr (std::is_same_v<T, protocol::PingRequest>) {
          send(protocol::pong(req.id, body.timestamp, ctx_.wall_now()));
        } else if constexpr (std::is_same_v<T, protocol::HelloRequest>) {
          handle_hello(req, body);  // before auth too: it changes only how frames are framed
        } else {
          if (!claims_) {
            send(protocol::error(req.id, ErrorCode::not_authenticated,
                                 "authenticate first: send {\"type\":\"auth\",\"token\":...}"));
            return;
          }
          if constexpr (std::is_same_v<T, protocol::SubscribeRequest>) handle_subscribe(req, body);
          else if constexpr (std::is_same_v<T, protocol::UnsubscribeRequest>) handle_unsubscribe(req, body);
          else if constexpr (std::is_same_v<T, protocol::AckRequest>) handle_ack(req, body);
          else handle_batch(req, body);
        }
      },
      req.body);
}

void Connection::log_in(std::string_view type, std::size_t size,
                        std::optional<Channel> ch) const {
  spdlog::debug("ws in  conn={} client={} type={} size={} channel={}", opts_.conn_id, opts_.peer,
                type, size,
                ch ? model::to_string(*ch) : "-");
}

void Connection::log_out(std::string_view type, std::size_t size,
                         std::optional<Channel> ch) const {
  spdlog::debug("ws out conn={} client={} type={} size={} channel={}", opts_.conn_id, opts_.peer,
                type, size,
                ch ? model::to_string(*ch) : "-");
}

// ------------------------------------------------------------------------------------ writing

void Connection::queued() {
  if (state_ != State::closed) host_.wants_write();
}

namespace {
// A reply's type as a metrics label (replies are few: a short scan is cheap enough).
metrics::OutType reply_type(std::string_view name) {
  using metrics::OutType;
  if (name == "auth_success" || name == "auth_failure" || name == "auth_response")
    return OutType::auth_response;
  if (name == "subscribed" || name == "unsubscribed" || name == "subscription" ||
      name == "unsubscription")
    return OutType::subscription;
  if (name == "pong") return OutType::pong;
  if (name == "error") return OutType::error;
  if (name == "token_expiring") return OutType::token_expiring;
  if (name == "batch_response" || name == "batch") return OutType::batch_response;
  if (name.ends_with("snapshot") || name.starts_with("replay")) return OutType::snapshot;
  return OutType::other;
}
}  // namespace

void Connection::send(std::string json) {
  if (state_ != State::open) return;
  // Replies start with {"type":"<name>": take the name without parsing.
  const auto start = json.find(":\"") + 2, end = json.find('"', start);
  const std::string_view name = std::string_view(json).substr(start, end - start);
  metrics::add(metrics::at(metrics::slot::messages_out, reply_type(name)));
  if (spdlog::should_log(spdlog::level::debug)) log_out(name, json.size(), std::nullopt);
  send_reliable(std::make_shared<const std::string>(std::move(json)));
}

void Connection::send_reliable(const Bytes& bytes) {
  if (state_ != State::open) return;
  if (!out_.push_reliable(bytes)) {
    close_slow_consumer("outbound queue full (max_outbound_bytes): reconnect to resume");
    return;
  }
  queued();
}

void Connection::send_alert(const Bytes& bytes, bool ack) {
  if (!ack) {
    send_update(bytes, Channel::alerts);
    return;
  }
  if (state_ != State::open) return;
  if (!acks_) acks_ = std::make_unique<AckLedger>();
  if (acks_->pending() >= limits::kMaxUnackedAlerts) {
    close_slow_consumer("more than " + std::to_string(limits::kMaxUnackedAlerts) +
                        " alerts unacknowledged: reconnect with since_alert_id to resume");
    return;
  }
  const auto id = acks_->track(bytes, ctx_.steady_now() + ctx_.cfg.alerts.ack_timeout);
  count_delivery(Channel::alerts);
  if (!out_.push_update(bytes, next_seq(Channel::alerts), id)) {
    close_slow_consumer("outbound queue full (max_outbound_bytes): reconnect to resume");
    return;
  }
  queued();
  set_timer(Timer::acks, acks_->next_due());
}

void Connection::on_ack_deadline(SteadyTime now) {
  if (!acks_) return;
  // Not acknowledged within alerts.ack_timeout: the same alert and delivery id again, marked
  // `redelivered`, with the next seq (it is another message).
  for (const auto& [id, bytes] : acks_->take_due(now, now + ctx_.cfg.alerts.ack_timeout)) {
    count_delivery(Channel::alerts);
    if (!out_.push_update(bytes, next_seq(Channel::alerts), id, true)) {
      close_slow_consumer("outbound queue full (max_outbound_bytes): reconnect to resume");
      return;
    }
  }
  queued();
  set_timer(Timer::acks, acks_->next_due());
}

void Connection::handle_ack(const protocol::Request& req, const protocol::AckRequest& a) {
  std::string unknown;
  for (auto id : a.delivery_ids)
    if (!acks_ || !acks_->ack(id)) unknown += (unknown.empty() ? "" : ", ") + std::to_string(id);
  if (!unknown.empty())
    send(protocol::error(req.id, ErrorCode::invalid_message,
                         "unknown delivery_id " + unknown +
                             ": no alert was sent with it on this connection"));
  if (!acks_) return;
  set_timer(Timer::acks, acks_->next_due());
  // A replay with `ack` waits while kMaxUnackedAlerts are unacknowledged.
  if (replay_) pump_replay();
}

void Connection::handle_hello(const protocol::Request& req, const protocol::HelloRequest& h) {
  // The features this server has; the reply names those of the request it applies from now on.
  std::vector<std::string> agreed;
  for (const auto& f : h.features)
    if (f == "coalesce" && std::find(agreed.begin(), agreed.end(), f) == agreed.end())
      agreed.push_back(f);
  send(protocol::hello(req.id, agreed));
  if (!agreed.empty()) out_.coalesce();  // the reply above may be the first of an array
}

void Connection::send_update(const Bytes& bytes, Channel channel) {
  if (state_ != State::open) return;
  count_delivery(channel);
  if (!out_.push_update(bytes, next_seq(channel))) {
    close_slow_consumer("outbound queue full (max_outbound_bytes): reconnect to resume");
    return;
  }
  queued();
}

void Connection::queue_pong(std::string payload) {
  if (!out_.push_reliable(std::make_shared<const std::string>(std::move(payload)), Opcode::pong)) {
    close_slow_consumer("outbound queue full");
    return;
  }
  pong_in_queue_ = true;
  queued();
}

void Connection::on_written(std::size_t n) {
  if (n == 0) return;
  metrics::add(metrics::slot::bytes_out, n);
  ctx_.registry.count_sent(out_.consumed_bytes(n), 1);
  if (out_.empty() && pong_in_queue_) {
    pong_in_queue_ = false;  // written: the newest ping since then gets its answer now
    if (unanswered_ping_ && state_ == State::open) {
      queue_pong(std::move(*unanswered_ping_));
      unanswered_ping_.reset();
    }
  }
  set_timer(Timer::write_stall, SteadyTime::max());  // the peer reads
  // A replay is fed as the client reads, a quarter of the budget at a time.
  if (replay_ && out_.queued_bytes() < ctx_.cfg.limits.max_outbound_bytes / 4) pump_replay();
}

void Connection::on_write_blocked() {
  if (ctx_.cfg.limits.write_timeout.count() == 0 || timer(Timer::write_stall) != SteadyTime::max())
    return;
  set_timer(Timer::write_stall, ctx_.steady_now() + ctx_.cfg.limits.write_timeout);
}

// ---------------------------------------------------------------------------------- life

void Connection::close(std::uint16_t code, std::string reason) {
  if (state_ != State::open) return;
  spdlog::debug("ws close conn={} client={} code={} reason={}", opts_.conn_id, opts_.peer, code,
                reason);
  // The close frame goes out even when the queue is full: it is the last frame ever queued.
  out_.push_final(std::make_shared<const std::string>(protocol::ws::close_payload(code, reason)),
                  Opcode::close);
  state_ = State::closing;
  set_timer(Timer::telemetry, SteadyTime::max());
  set_timer(Timer::acks, SteadyTime::max());
  set_timer(Timer::keepalive, SteadyTime::max());
  // The phase deadline now bounds the close (replacing the auth or token wait).
  phase_ = Phase::close_linger;
  set_timer(Timer::phase, ctx_.steady_now() + limits::kCloseLinger);
  queued();
}

void Connection::close_for_abuse(std::uint16_t code, std::string reason) {
  if (state_ != State::open) return;
  abusive_close_ = true;
  close(code, std::move(reason));
}

void Connection::close_slow_consumer(std::string reason) {
  metrics::add(metrics::at(metrics::slot::slow_consumer, metrics::SlowConsumer::queue_full));
  close(close_code::slow_consumer, std::move(reason));
}

void Connection::close_for_flood(std::string reason) {
  // One place for every flood (messages, control frames): one close code, one rule.
  ctx_.abuse.limit_violation(opts_.peer, "flood (4008): " + reason, ctx_.steady_now());
  close_for_abuse(close_code::rate_limit_abuse, std::move(reason));
}

void Connection::finish() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  for (const auto& [k, f] : subs_) shard_.remove(this, k.channel, k.device);
  subs_.clear();
  if (!counted_user_.empty()) ctx_.registry.remove_user(counted_user_);
  counted_user_.clear();
  ctx_.registry.close(ctx_.steady_now() - opened_at_, claims_.has_value());
  timers_.fill(SteadyTime::max());
  if (deadline_ != SteadyTime::max()) {
    deadline_ = SteadyTime::max();
    host_.deadline_changed(deadline_);
  }
}

// ---------------------------------------------------------------------------------- deadlines

void Connection::set_timer(Timer t, SteadyTime when) {
  auto& slot = timers_[static_cast<std::size_t>(t)];
  if (slot == when) return;
  slot = when;
  if (state_ == State::closed) return;
  const auto earliest = *std::min_element(timers_.begin(), timers_.end());
  if (earliest == deadline_) return;
  deadline_ = earliest;
  host_.deadline_changed(deadline_);
}

void Connection::on_deadline() {
  const auto now = ctx_.steady_now();
  auto due = [&](Timer t) {
    if (state_ == State::closed || timer(t) > now) return false;
    set_timer(t, SteadyTime::max());
    return true;
  };
  if (due(Timer::write_stall) && state_ == State::open) {
    ctx_.registry.count_write_timeout();
    metrics::add(metrics::at(metrics::slot::slow_consumer, metrics::SlowConsumer::write_timeout));
    close(close_code::slow_consumer,
          "write stalled: nothing read for limits.write_timeout; reconnect to resume");
  }
  if (due(Timer::phase)) on_phase_deadline();
  if (due(Timer::keepalive)) on_keepalive_deadline(now);
  if (due(Timer::telemetry) && state_ == State::open) on_telemetry_deadline(now);
  if (due(Timer::acks) && state_ == State::open) on_ack_deadline(now);
}

void Connection::on_phase_deadline() {
  const Phase phase = std::exchange(phase_, Phase::none);
  switch (phase) {
    case Phase::none:
      break;
    case Phase::auth:
      if (!claims_ && state_ == State::open) {
        metrics::add(metrics::at(metrics::slot::auth_failures, metrics::AuthFailure::timeout));
        close(close_code::auth_failed, "authentication timeout");
      }
      break;
    case Phase::token_warning: {
      if (state_ != State::open || !claims_ || !claims_->expires_at) break;
      const auto exp = *claims_->expires_at;
      send(protocol::token_expiring(exp));
      // The same leeway as at verification: a token accepted just past exp is not cut at once.
      const auto until = std::chrono::duration_cast<SteadyTime::duration>(
          exp + ctx_.cfg.auth.leeway - ctx_.wall_now());
      phase_ = Phase::token_expiry;
      set_timer(Timer::phase, ctx_.steady_now() + until);
      break;
    }
    case Phase::token_expiry:
      if (state_ == State::open) close(close_code::token_expired, "token expired");
      break;
    case Phase::close_linger:
      host_.abort_transport();
      break;
  }
}

void Connection::arm_token_timers() {
  // Now that the auth timeout is over: first the warning, then the expiry. A refresh re-arms it.
  if (!claims_ || !claims_->expires_at) {
    phase_ = Phase::none;
    set_timer(Timer::phase, SteadyTime::max());
    return;
  }
  const auto left = std::chrono::duration_cast<SteadyTime::duration>(*claims_->expires_at -
                                                                     ctx_.wall_now());
  phase_ = Phase::token_warning;
  set_timer(Timer::phase, ctx_.steady_now() + (left - ctx_.cfg.auth.expiry_warning));
}

// Keepalive: after limits.idle_timeout without a byte from the peer, a ping; after another
// idle_timeout still without one, the connection is closed (4010). The deadline is not moved on
// every message (that would be a heap operation per read): when it passes, it is re-armed from
// the last time the peer was heard.
void Connection::arm_keepalive(SteadyTime now) {
  const auto idle = ctx_.cfg.limits.idle_timeout;
  if (idle.count() == 0 || state_ != State::open) return;
  set_timer(Timer::keepalive, std::max(now, last_heard_) + idle);
}

void Connection::on_keepalive_deadline(SteadyTime now) {
  if (state_ != State::open) return;
  const auto idle = ctx_.cfg.limits.idle_timeout;
  if (now - last_heard_ < idle) {
    set_timer(Timer::keepalive, last_heard_ + idle);
    return;
  }
  if (ping_outstanding_) {
    close(close_code::idle_timeout, "no answer to the server's ping within limits.idle_timeout");
    return;
  }
  ping_outstanding_ = true;
  if (!out_.push_reliable(std::make_shared<const std::string>(), Opcode::ping)) {
    close_slow_consumer("outbound queue full");
    return;
  }
  queued();
  set_timer(Timer::keepalive, now + idle);
}

}  // namespace valtronics::session
