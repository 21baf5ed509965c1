// One WebSocket connection's protocol, with no IO: the IO-free core that net/ws_session drives.
//
// It takes the bytes the peer sent (on_bytes), the hub's events (on_event), the answers of its
// catch-up queries and the passing of its deadline, and it produces frames in its outbound
// queue plus a few actions through its Host (write, move the deadline, drop the transport). It
// holds the whole protocol state of a connection: auth and token lifetime, subscriptions and
// their filters, the per-channel `seq`, throttled telemetry, catch-up with held events and
// deferred requests, alert cover and replay de-duplication, rate limiting, keepalive and the
// write-stall and close deadlines.
//
// Single-threaded: everything runs on the connection's I/O thread (or the test's thread).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "auth/abuse_monitor.hpp"
#include "auth/claims.hpp"
#include "auth/jwt.hpp"
#include "auth/rate_limit.hpp"
#include "config/config.hpp"
#include "hub/shard.hpp"
#include "hub/subscriber.hpp"
#include "metrics/counters.hpp"
#include "model/enums.hpp"
#include "protocol/messages.hpp"
#include "protocol/parse.hpp"
#include "protocol/serialize.hpp"
#include "protocol/ws_frame.hpp"
#include "session/ack_ledger.hpp"
#include "session/alert_cover.hpp"
#include "session/connection_registry.hpp"
#include "session/host.hpp"
#include "session/outbound_queue.hpp"
#include "session/stale_watch.hpp"
#include "session/subscription_set.hpp"
#include "session/throttle.hpp"
#include "session/value_gates.hpp"
#include "util/time.hpp"

namespace valtronics::session {

// What every connection of the server shares (read-only but for the registry, the newest
// alert id and the abuse monitor, which are thread-safe).
struct Context {
  const config::Config& cfg;
  const auth::JwtVerifier& verifier;
  ConnectionRegistry& registry;
  const protocol::ParseOptions& parse_options;
  // The newest alert id known to be stored, shared by every connection: where the query for
  // `last_alert_id` starts (it only makes that query cheap; it never decides what is sent).
  std::atomic<std::int64_t>& newest_alert_id;
  // Bad tokens and limit violations, per client address (Options::peer): bans, stats, logs.
  auth::AbuseMonitor& abuse;
  // The clocks, replaceable by tests (steady for deadlines and rates, wall for token times).
  SteadyTime (*steady_now)() = &std::chrono::steady_clock::now;
  util::TimePoint (*wall_now)() = &util::Clock::now;
};

class Connection final : public hub::Subscriber {
 public:
  struct Options {
    std::optional<model::Channel> endpoint_channel;  // /ws/<channel>: only that channel
    // The client's address (net/client_address: the peer, or the address a trusted proxy
    // forwarded): logs, and the abuse monitor's per-address counts.
    std::string peer{};
    // The TCP connection's id (conn= in every log line about it; util/log.hpp).
    std::uint64_t conn_id = 0;
    // permessage-deflate as the handshake agreed (issue 15): the window bits of our
    // compressor; 0 when not negotiated.
    int deflate_window_bits = 0;
    // The `valtronics.msgpack` subprotocol (issue 15): messages both ways are MessagePack in
    // binary frames.
    bool msgpack = false;
  };
  enum class State : std::uint8_t {
    open,     // reading requests, delivering events
    closing,  // our close frame is queued: only waiting for the peer's close or EOF
    closed,   // finished: unregistered everywhere
  };

  // `shard`: the subscription index of this connection's thread.
  Connection(Host& host, const Context& ctx, hub::Shard& shard, Options opts);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The upgrade is done. `early_bytes`: bytes read past the upgrade request (pipelined frames);
  // `header_token`: the handshake's Authorization: Bearer token, if any.
  void start(std::string_view early_bytes, std::optional<std::string> header_token);

  // Bytes read from the peer. Frames are parsed and run in order; replies and updates are
  // queued. Ignored once closing (the peer's data no longer matters, only its EOF).
  void on_bytes(const char* data, std::size_t size);

  // A hub event of a (channel, device) this connection registered (hub::Subscriber).
  void on_event(const hub::EventPtr& event, hub::ProjectionCache& cache) override;

  // The deadline last given to Host::deadline_changed has passed (or a later one: the core
  // checks what is really due).
  void on_deadline();

  // The outbound queue, for the host to write from.
  OutboundQueue& outbound() { return out_; }
  // `n` bytes of what outbound().gather() returned were written (n may be 0).
  void on_written(std::size_t n);
  // The socket is full: nothing more can be written until the peer reads. A peer that reads
  // nothing for limits.write_timeout is closed with 4009.
  void on_write_blocked();

  // Server-initiated close (shutdown, errors): queues a close frame with `code` (the last frame
  // ever queued) and waits, bounded, for the peer's close.
  void close(std::uint16_t code, std::string reason);
  // A close for abuse (floods, protocol violations): the same, and the peer is not read any more.
  void close_for_abuse(std::uint16_t code, std::string reason);
  // A flood of messages or of control frames: 4008.
  void close_for_flood(std::string reason);
  // A client that does not keep up: its queue is full (4009), counted for GET /metrics.
  void close_slow_consumer(std::string reason);
  // One channel update queued (GET /metrics): a message out of the channel's update type
  // (metrics::OutType's first four, in model::Channel order); their sum is the fan-out
  // deliveries.
  static void count_delivery(model::Channel c) {
    metrics::add(metrics::slot::messages_out + static_cast<std::size_t>(c));
  }
  // The transport is gone (EOF, reset, closed): unregisters everything, once.
  void finish();

  State state() const { return state_; }
  // Whether the host should still read from the peer. False once the connection is closing
  // for abuse (a flood, a protocol violation): during the close linger nothing it sends is
  // processed or even read, so a flooder costs neither CPU nor bandwidth while it lasts; its
  // socket buffer fills and TCP pushes back on it.
  bool wants_reads() const { return state_ == State::open || (state_ == State::closing && !abusive_close_); }
  bool peer_closed() const { return peer_closed_; }  // the peer sent its close frame
  bool authenticated() const { return claims_.has_value(); }
  std::size_t subscription_count() const { return subs_.size(); }
  SteadyTime deadline() const { return deadline_; }

 private:
  using Bytes = OutboundQueue::Bytes;
  using Item = std::variant<protocol::Request, protocol::ProtocolError>;
  // What a `subscribed` reply carries besides the filters: the request's id, and the devices a
  // subscribe named that the token does not cover (a partial subscribe, issue 15).
  struct SubscribeReply {
    protocol::OptId id;
    std::vector<std::int64_t> forbidden{};
  };

  // ---- reading and requests (connection.cpp)
  void drain_frames();
  void on_control(protocol::ws::Opcode opcode, std::string_view payload);
  void on_text(std::string_view text);      // a JSON message
  void on_binary(std::string_view data);    // a MessagePack one (1003 without the subprotocol)
  // Counts a received message of `size` bytes and applies the size and rate limits: false
  // when it is dropped (an error is queued) or the connection closes.
  bool admit(std::size_t size, bool batch);
  // A parsed message, or the error to answer it with (in order behind any catch-up).
  void handle(boost::system::result<protocol::Request, protocol::ProtocolError> parsed,
              std::size_t size);
  void run(Item& item);  // a request, or a parse error to answer
  void execute(protocol::Request& req);

  // ---- auth and subscriptions (subscriptions.cpp)
  void handle_auth(const protocol::Request& req, const protocol::AuthRequest& auth);
  void handle_subscribe(const protocol::Request& req, const protocol::SubscribeRequest& sub);
  void handle_unsubscribe(const protocol::Request& req, const protocol::UnsubscribeRequest& u);
  void handle_batch(const protocol::Request& req, const protocol::BatchRequest& b);
  // Acknowledged alerts (issue 15): an alert sent with a delivery id when its subscription asked
  // for `ack`, the client's acks, and redelivery after alerts.ack_timeout.
  void handle_ack(const protocol::Request& req, const protocol::AckRequest& a);
  void handle_hello(const protocol::Request& req, const protocol::HelloRequest& h);
  void send_alert(const Bytes& bytes, bool ack);
  void on_ack_deadline(SteadyTime now);
  void subscribe_keys(model::Channel channel, const protocol::Filters& filters);
  void drop_forbidden_subscriptions();
  // The subscriptions or the token changed: throttles, value gates and stale clocks keep only
  // what the subscriptions still ask for.
  void subscriptions_changed();

  // ---- catching up (catch_up.cpp): snapshots and replays, with live events held meanwhile and
  // later requests deferred, so that every reply keeps the order of the requests.
  void start_catch_up(const SubscribeReply& reply, model::Channel channel,
                      const protocol::Filters& filters, std::vector<AlertCover> cover = {});
  void start_alerts_catch_up(const SubscribeReply& reply, const protocol::Filters& filters,
                             std::vector<AlertCover> cover);
  void on_telemetry_snapshot(const SubscribeReply& reply, const protocol::Filters& filters,
                             model::Snapshot<model::TelemetryEvent> snap);
  void on_status_snapshot(const SubscribeReply& reply, const protocol::Filters& filters,
                          model::Snapshot<model::DeviceStatusEvent> snap);
  void on_alerts_query(const SubscribeReply& reply, const protocol::Filters& filters,
                       std::int64_t known, std::vector<AlertCover> cover, model::AlertReplay r);
  // Runs `fn` (a catch-up answer) only while the connection is still open.
  template <class T, class Fn>
  std::function<void(T)> answer(Fn fn);
  void pump_replay();
  template <class Skip>
  void finish_catch_up(model::Channel channel, const Skip& skip);
  bool defer_if_catching_up(Item& item);

  // ---- delivering (delivery.cpp)
  void deliver(const hub::EventPtr& event, hub::ProjectionCache& cache);
  void deliver_telemetry(const hub::Event& event, const model::TelemetryEvent& t,
                         hub::ProjectionCache& cache);
  void deliver_system(const hub::Event& event, const model::SystemEvent& sys,
                      const protocol::Filters& filters, hub::ProjectionCache& cache);
  // Telemetry through deadband or crossing gates, or watched for staleness (issue 15).
  void deliver_watched_telemetry(const hub::Event& event, const model::TelemetryEvent& t,
                                 const TelemetryPlan& plan, hub::ProjectionCache& cache);
  void push_telemetry_frame(const hub::Event& event, const model::TelemetryEvent& t,
                            std::span<const model::MetricReading> readings,
                            std::span<const std::string> metrics, hub::ProjectionCache& cache);
  // The telemetry timer: throttle slots, max_silence and stale_after deadlines.
  void on_telemetry_deadline(SteadyTime now);
  void arm_telemetry_timer();
  // A throttled device's slot: its latest values, or its window's aggregates.
  void push_window(std::int64_t device, Throttles::Window window);

  // ---- writing (connection.cpp)
  void send(std::string json);            // a direct reply: reliable
  void send_reliable(const Bytes& bytes);  // 4009 if it does not fit
  // An update that is never dropped (alert, status, snapshot, replay), numbered on `channel`.
  void send_update(const Bytes& bytes, model::Channel channel);
  // The seq of the next update on `c`; `n` > 1 for an update standing for n (conflated): seq
  // jumps by n, as it does for the outbound queue's own conflation.
  std::uint64_t next_seq(model::Channel c, std::uint64_t n = 1) {
    return seq_[static_cast<std::size_t>(c)] += n;
  }
  void queued();  // frames were queued: ask the host to write

  // ---- deadlines (connection.cpp): one per concern, the host keeps only the earliest.
  // `telemetry`: the earliest of throttle slots, max_silence and stale_after (issue 15).
  // `acks`: the earliest redelivery of an unacknowledged alert.
  enum class Timer : std::uint8_t { phase, telemetry, keepalive, write_stall, acks, count };
  void set_timer(Timer t, SteadyTime when);
  SteadyTime timer(Timer t) const { return timers_[static_cast<std::size_t>(t)]; }
  void on_phase_deadline();
  void on_keepalive_deadline(SteadyTime now);
  void arm_token_timers();
  void arm_keepalive(SteadyTime now);

  void log_in(std::string_view type, std::size_t size, std::optional<model::Channel> ch) const;
  void log_out(std::string_view type, std::size_t size, std::optional<model::Channel> ch) const;

  Host& host_;
  const Context& ctx_;
  hub::Shard& shard_;
  Options opts_;
  protocol::ws::FrameReader reader_;
  OutboundQueue out_;
  State state_ = State::open;
  bool peer_closed_ = false;
  bool abusive_close_ = false;  // closed by close_for_abuse: stop reading (wants_reads)

  std::optional<auth::Claims> claims_;
  std::string counted_user_;  // sub counted in the per-user limit
  auth::MessageRateGuard rate_;
  // Pings and pongs from the peer (limits.control_frames_per_second): the same flood rule as
  // messages, with its own bucket so that keepalive pongs never cost a message token.
  auth::MessageRateGuard control_rate_;
  Subscriptions subs_;
  Throttles throttles_;
  // Deadband and crossing gates and stale_after clocks (issue 15), allocated by the first
  // subscription that asks for them: a connection that never does carries only this pointer.
  struct TelemetryWatch {
    ValueGates gates;
    StaleWatch stale;
  };
  std::unique_ptr<TelemetryWatch> watch_;
  SteadyTime system_next_due_{};
  SteadyTime opened_at_;

  // Per channel: messages delivered so far (the `seq` of the last one).
  std::array<std::uint64_t, model::kChannelCount> seq_{};

  // Per channel: live events held while a snapshot or replay is on its way (allocated by the
  // first catch-up: most connections never need it).
  struct HeldEvents {
    bool active = false;
    std::vector<hub::EventPtr> events;
  };
  std::unique_ptr<std::array<HeldEvents, model::kChannelCount>> held_;
  HeldEvents& held(model::Channel c);
  bool catching_up_ = false;
  // Requests that arrived during a catch-up, in order. (A vector, not a deque: libstdc++'s
  // deque allocates even when empty, on every connection.)
  std::vector<Item> deferred_;

  struct ReplayState {  // a since_alert_id replay being fed to the client as it reads
    std::vector<model::Alert> alerts;
    std::size_t next = 0;
    SentAlerts sent;                 // what the replay sent
    std::vector<AlertCover> cover;  // the other alerts subscriptions when it started
    bool ack = false;               // its subscription asked for `ack`
  };
  std::unique_ptr<ReplayState> replay_;
  // The alerts channel's bookkeeping (allocated by the first alerts subscription).
  std::unique_ptr<AlertsLedger> alerts_;
  // Alerts sent with `ack` and not acknowledged yet (allocated by the first of them).
  std::unique_ptr<AckLedger> acks_;
  AlertsLedger& alerts_ledger();

  // Deadlines: the auth timeout, then the token warning and expiry, then the close linger.
  enum class Phase : std::uint8_t { none, auth, token_warning, token_expiry, close_linger };
  Phase phase_ = Phase::none;
  std::array<SteadyTime, static_cast<std::size_t>(Timer::count)> timers_;
  SteadyTime deadline_ = SteadyTime::max();
  SteadyTime last_heard_;     // the peer's last bytes (keepalive)
  bool ping_outstanding_ = false;
  // Pings: at most one pong queued; the newest ping received meanwhile waits here for it.
  bool pong_in_queue_ = false;
  std::optional<std::string> unanswered_ping_;
  void queue_pong(std::string payload);
};

}  // namespace valtronics::session
