// WebSocket session: its life (start, close, finish), reading frames and dispatching requests,
// and writing. The protocol's other concerns are in ws_subscriptions.cpp, ws_catch_up.cpp and
// ws_delivery.cpp; see ws_session.hpp.
#include "net/ws_session.hpp"

#include <algorithm>
#include <limits>
#include <utility>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "engine/engine.hpp"
#include "net/exact_allocator.hpp"
#include "net/ws_session_internal.hpp"
#include "util/socket_io.hpp"
#include "protocol/parse.hpp"
#include "protocol/serialize.hpp"

namespace valtronics::net {

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
                ch ? model::to_string(*ch) : "-");
}

void WsSession::log_out(std::string_view type, std::size_t size, std::optional<Channel> ch) {
  spdlog::debug("ws out peer={} type={} size={} channel={}", opts_.peer, type, size,
                ch ? model::to_string(*ch) : "-");
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
  return util::receive_now(socket_.native_handle(), data, size, ec);
}

std::size_t WsSession::send_now(const std::vector<asio::const_buffer>& bufs, error_code& ec) {
  auto& iov = worker_.write_iov;
  iov.resize(bufs.size());
  for (std::size_t i = 0; i < bufs.size(); ++i)
    iov[i] = {const_cast<void*>(bufs[i].data()), bufs[i].size()};
  return util::send_now(socket_.native_handle(), iov.data(), iov.size(), ec);
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
    if (deferrals < limits::kMaxFlushDeferrals && w.shard->pending() > 0) {
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
    out_.gather(bufs, limits::kMaxFramesPerWrite);
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
  set_deadline(Phase::close_linger, Steady::now() + limits::kCloseLinger);
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
