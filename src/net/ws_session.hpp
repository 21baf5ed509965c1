// One WebSocket connection after the upgrade: reads frames, runs the protocol (auth,
// subscribe, unsubscribe, ping, batch), applies limits, and delivers hub events through its
// bounded outbound queue. Lives on one I/O thread for its whole life; every member is touched
// only from there, so nothing here takes a lock.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <unordered_map>
#include <variant>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/claims.hpp"
#include "auth/rate_limit.hpp"
#include "model/alert.hpp"
#include "model/enums.hpp"
#include "model/events.hpp"
#include "hub/subscriber.hpp"
#include "net/deadlines.hpp"
#include "net/outbound_queue.hpp"
#include "net/server_context.hpp"
#include "protocol/messages.hpp"
#include "protocol/serialize.hpp"
#include "protocol/ws_frame.hpp"

namespace valtronics::net {

class WsSession : public std::enable_shared_from_this<WsSession>,
                  public hub::Subscriber,
                  private DeadlineOwner {
 public:
  struct Options {
    std::optional<model::Channel> endpoint_channel;  // /ws/<channel>: only that channel
    std::string peer;                                // client address, for logs
  };

  // `socket` has completed the upgrade and holds a slot from ConnectionRegistry::try_open.
  WsSession(boost::asio::ip::tcp::socket socket, Worker& worker, ServerContext& ctx, Options opts);
  ~WsSession() override;

  // `early_bytes`: bytes read past the upgrade request (pipelined frames); `header_token`:
  // the Authorization: Bearer token of the handshake, if any.
  void start(std::string early_bytes, std::optional<std::string> header_token);
  // Server-initiated close (shutdown): sends a close frame with `code`, then closes.
  void close(std::uint16_t code, std::string reason);

  void on_event(const hub::EventPtr& event, hub::ProjectionCache& cache) override;

 private:
  using Bytes = OutboundQueue::Bytes;
  struct SubKey {
    model::Channel channel;
    std::int64_t device;  // hub::kAllDevices for "every device"
    auto operator<=>(const SubKey&) const = default;
  };
  struct Throttle {  // telemetry with a `frequency`: latest values waiting for their slot
    std::chrono::steady_clock::time_point next_due{};
    std::chrono::milliseconds frequency{0};
    std::map<std::string, model::MetricReading> pending;
  };

  // reading and dispatch
  void do_read();
  void on_readable(boost::system::error_code ec);
  bool drain_frames();  // false when the session stopped reading
  void on_text(std::string_view text);
  void execute(protocol::Request& req);
  void handle_auth(const protocol::Request& req, const protocol::AuthRequest& auth);
  void handle_subscribe(const protocol::Request& req, const protocol::SubscribeRequest& sub);
  void handle_unsubscribe(const protocol::Request& req, const protocol::UnsubscribeRequest& u);
  void handle_batch(const protocol::Request& req, const protocol::BatchRequest& b);
  void subscribe_keys(model::Channel channel, const protocol::Filters& filters);
  void drop_forbidden_subscriptions();
  void arm_token_timers();
  // The one deadline of this connection's current phase (kept by worker_.deadlines): the auth
  // timeout, then token_expiring and the expiry, then the close linger.
  enum class Phase : std::uint8_t { none, auth, token_warning, token_expiry, close_linger };
  void set_deadline(Phase phase, std::chrono::steady_clock::time_point when);
  void on_deadline() override;

  // delivering
  struct TelemetryPlan {  // what this connection wants of one device's telemetry
    bool matched = false, realtime = false;
    std::vector<std::string> metrics;  // sorted; empty = every metric
    std::chrono::milliseconds frequency = std::chrono::milliseconds::max();
  };
  TelemetryPlan telemetry_plan(std::int64_t device) const;
  void prune_throttles();
  void deliver_telemetry(const hub::Event& event, const model::TelemetryEvent& t,
                         hub::ProjectionCache& cache);
  void deliver_throttled(std::int64_t device, std::span<const model::MetricReading> readings,
                         std::span<const std::string> metrics, std::chrono::milliseconds freq);
  void flush_throttled();
  void send_throttled(std::int64_t device, Throttle& th);
  void arm_throttle_timer();

  // writing
  void send(std::string json);              // a direct reply: reliable
  void send_reliable(const Bytes& bytes);   // a reply: 4009 if it does not fit
  // An update that is never dropped (alert, status, snapshot, replay), numbered on `channel`.
  void send_update(const Bytes& bytes, model::Channel channel);
  std::uint64_t next_seq(model::Channel c) { return ++seq_[static_cast<std::size_t>(c)]; }
  // What an alerts subscription has delivered: every alert it matches (device, severity,
  // alert_type) with an id above `start`, at every state it has reached since.
  struct AlertCover {
    std::int64_t device;
    std::vector<model::Severity> severities;
    std::vector<model::AlertType> alert_types;
    std::int64_t start;
  };
  void start_catch_up(const protocol::OptId& id, model::Channel channel,
                      const protocol::Filters& filters, std::vector<AlertCover> cover = {});
  void start_alerts_catch_up(const protocol::OptId& id, const protocol::Filters& filters,
                             std::vector<AlertCover> cover);
  void on_alerts_query(const protocol::OptId& id, const protocol::Filters& filters,
                       std::int64_t known, std::vector<AlertCover> cover, model::AlertReplay r);
  std::vector<AlertCover> alert_cover() const;  // of the current alerts subscriptions
  bool alert_already_sent(const model::Alert& a, const std::vector<AlertCover>& cover) const;
  void note_alert_sent(const model::AlertEvent& a);  // a live alert is being sent
  void pump_replay();
  void finish_catch_up(model::Channel channel,
                       const std::function<bool(const hub::Event&)>& skip);
  bool defer_if_catching_up(std::variant<protocol::Request, protocol::ProtocolError>& item);
  // One non-blocking recv / sendmsg on the socket (would_block when it has nothing / no room).
  std::size_t receive_now(char* data, std::size_t size, boost::system::error_code& ec);
  std::size_t send_now(const std::vector<boost::asio::const_buffer>& bufs,
                       boost::system::error_code& ec);
  void do_write();   // schedules write_now for the end of this loop turn
  void write_now();  // non-blocking writes until the queue is empty or the socket is full
  static void post_flush(Worker& w, int deferrals);
  void on_writable(boost::system::error_code ec);
  void finish();                            // socket closed: unregister everything once

  void on_event_filtered(const hub::EventPtr& event, hub::ProjectionCache& cache);
  // Debug logging, one line per message in and out: direction, type, size, channel.
  void log_in(std::string_view type, std::size_t size, std::optional<model::Channel> ch);
  void log_out(std::string_view type, std::size_t size, std::optional<model::Channel> ch);

  boost::asio::ip::tcp::socket socket_;
  Worker& worker_;
  ServerContext& ctx_;
  Options opts_;
  protocol::ws::FrameReader reader_;
  OutboundQueue out_;
  bool writing_ = false;        // waiting for the socket to become writable
  bool flush_pending_ = false;  // in worker_.dirty
  enum class State { open, closing, closed } state_ = State::open;
  bool finished_ = false;
  bool peer_closed_ = false;    // the peer sent its close frame

  std::optional<auth::Claims> claims_;
  std::string counted_user_;  // sub counted in the per-user limit
  auth::MessageRateGuard rate_;
  std::map<SubKey, protocol::Filters> subs_;
  std::map<std::int64_t, Throttle> throttles_;
  std::chrono::steady_clock::time_point system_next_due_{};
  std::chrono::steady_clock::time_point opened_at_;

  // Per channel: messages delivered so far (the `seq` of the last one).
  std::array<std::uint64_t, model::kChannelCount> seq_{};
  // Per channel: live events held while a snapshot or replay is on its way (allocated by the
  // first catch-up: most connections never need it).
  struct Held {
    bool active = false;
    std::vector<hub::EventPtr> events;
  };
  std::unique_ptr<std::array<Held, model::kChannelCount>> held_;
  bool catching_up_ = false;
  // (A vector, not a deque: libstdc++'s deque allocates even when empty, on every connection.)
  std::vector<std::variant<protocol::Request, protocol::ProtocolError>> deferred_;
  struct ReplayState {  // a since_alert_id replay being fed to the client
    std::vector<model::Alert> alerts;
    std::size_t next = 0;
    std::unordered_map<std::int64_t, int> sent;  // alert id -> status rank sent
    std::vector<AlertCover> cover;  // the other alerts subscriptions when it started
  };
  std::unique_ptr<ReplayState> replay_;
  // The alerts channel's bookkeeping, for replays to skip what the connection already has
  // (allocated by the first alerts subscription).
  struct AlertsState {
    // Alerts key (device, hub::kAllDevices for every device) -> its cover's `start`, once its
    // catch-up is done; cleared when a token refresh widens what the connection may see.
    std::map<std::int64_t, std::int64_t> starts;
    // Alert id -> status rank, of live alerts sent outside every cover (a state change of an
    // alert older than the subscriptions, say); the newest kMaxOtherSentAlerts.
    std::map<std::int64_t, int> other_sent;
    // The newest alert id known to be stored, shared by the sessions of the server: where the
    // query for `last_alert_id` starts.
    std::atomic<std::int64_t>* newest = nullptr;
  };
  std::unique_ptr<AlertsState> alerts_;
  AlertsState& alerts_state();
  Held& held(model::Channel c) {
    if (!held_) held_ = std::make_unique<std::array<Held, model::kChannelCount>>();
    return (*held_)[static_cast<std::size_t>(c)];
  }

  Phase phase_ = Phase::none;
  // `frequency` flushes; created by the first throttled subscription.
  std::unique_ptr<boost::asio::steady_timer> throttle_timer_;
  bool throttle_armed_ = false;
};

}  // namespace valtronics::net
