// The client's engine, private to the library: one object living on the client's I/O thread
// that owns the connection, the state machine (connecting -> connected -> reconnecting ...),
// the requests awaiting replies, the subscription set and the alert resume point. Client
// (client.cpp) is its thread-safe facade: every entry point here posts to the I/O thread.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <string_view>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "client/client.hpp"
#include "client/router.hpp"
#include "client/subscriptions.hpp"
#include "client/url.hpp"

namespace valtronics::client {

class Client::Session : public std::enable_shared_from_this<Client::Session> {
 public:
  Session(Options options, Url url);
  ~Session();

  // Thread-safe entry points (each posts to the I/O thread).
  void add_handler(std::string type, bool every, MessageHandler h);
  void add_state_handler(std::function<void(const StateChange&)> h);
  void add_removed_handler(std::function<void(const SubscriptionRemoved&)> h);
  void start();
  void request(boost::json::object msg, ReplyHandler done);
  void batch(std::vector<boost::json::object> msgs,
             std::function<void(std::vector<Reply>)> done);
  void close();
  void shutdown();  // close() and join the thread (from the destructor of Client)

  std::shared_future<AuthInfo> connected_future() const { return connected_; }
  std::shared_future<void> finished_future() const { return finished_; }
  State state() const { return state_.load(); }
  Stats stats() const;

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  enum class Kind { auth, subscribe, restore, unsubscribe, ping, keepalive, batch, other };
  struct Pending {
    Kind kind = Kind::other;
    boost::json::object request;  // as sent, with its id (a batch's parts go inside it)
    ReplyHandler done;
    SteadyTime deadline{};
    SteadyTime sent_at{};
    std::uint64_t sent_on = 0;    // connection generation it was sent on; 0 = not yet
    std::int64_t parent = 0;      // batch id for the parts of a batch
    bool internal = false;        // the session's own (auth, keepalive, restore): not resent
    std::vector<std::int64_t> parts;
  };

  static Kind kind_of(const boost::json::object& msg);  // by its type, for reply bookkeeping
  void dial();
  void on_open(std::uint64_t gen);
  void on_text(std::uint64_t gen, std::string text);  // a frame (MessagePack with opts_.msgpack)
  // A message as this connection writes it: JSON text, or MessagePack (Options::msgpack).
  std::string encode(const boost::json::object& message) const;
  void on_message(Message m);  // one message: a frame's, or one of a coalesced array's
  static constexpr std::string_view kHelloId = "hello";
  void on_closed(std::uint64_t gen, const CloseInfo& info);
  void drop(const std::string& why);
  void schedule_reconnect(const std::string& why);
  void on_auth_response(const Message& m);
  void on_authenticated(const Message& m);
  void refresh_token();
  void restore_subscriptions();
  void on_reply(std::int64_t id, const Message& m);
  void complete(std::int64_t id, Pending p, const Reply& r);
  void track(Kind kind, const boost::json::object& request, const Reply& r);
  // Registers a request under a fresh id (set in its `id`); auth, keepalive and restore are
  // internal. Returns the id; send_pending sends it if connected and authenticated (auth: open).
  std::int64_t enqueue(Kind kind, boost::json::object msg, ReplyHandler done,
                       std::int64_t parent = 0, bool internal = false);
  void send_pending(std::int64_t id);
  // Acknowledges an alert delivery (subscriptions with `ack`).
  void acknowledge(std::int64_t delivery_id);
  void flush_unsent();
  void tick();
  void deliver(const Message& m);
  // An `error` without id naming (channel, device_id): the server removed that subscription.
  void on_removed_by_server(const Message& m);
  // Drops one key from the restore set and tells the on_subscription_removed handlers.
  void forget_subscription(const std::string& channel, std::optional<std::int64_t> device,
                           const std::string& reason, const std::string& error,
                           const std::string& message);
  void set_state(StateChange change);
  void fatal(const std::string& code, const std::string& message);
  void fail_all(const std::string& code, const std::string& message);
  bool obtain_token(std::string& out);
  void publish_stats();

  Options opts_;
  Url url_;
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer reconnect_timer_, tick_timer_, linger_timer_;
  std::thread thread_;
  std::mt19937_64 rng_;

  std::map<std::string, std::vector<MessageHandler>> by_type_;
  std::vector<MessageHandler> every_;
  std::vector<std::function<void(const StateChange&)>> state_handlers_;
  std::vector<std::function<void(const SubscriptionRemoved&)>> removed_handlers_;

  std::shared_ptr<WsConnection> conn_;
  std::uint64_t generation_ = 0;
  bool open_ = false, authenticated_ = false, started_ = false, ever_connected_ = false;
  bool closing_ = false, done_ = false, resume_supported_ = true;
  SteadyTime opened_at_{}, last_keepalive_{};
  std::int64_t keepalive_id_ = 0;
  std::string token_;
  unsigned attempts_ = 0;

  std::map<std::int64_t, Pending> pending_;
  std::int64_t next_id_ = 1;
  SubscriptionSet subs_;
  Router router_;

  std::promise<AuthInfo> connected_promise_;
  std::shared_future<AuthInfo> connected_;
  bool connected_settled_ = false;
  std::promise<void> finished_promise_;
  std::shared_future<void> finished_;

  std::atomic<State> state_{State::idle};
  mutable std::mutex stats_mu_;
  Stats stats_;
};

}  // namespace valtronics::client
