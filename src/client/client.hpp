// valtronics::client::Client: the C++ SDK for the Valtronics WebSocket API.
//
//   Options o;  o.url = "ws://127.0.0.1:8000/ws";  o.token = "<jwt>";
//   Client c(o);
//   c.on("telemetry_update", [](const Message& m) { ... });   // on the client's thread
//   c.connect().get();                                         // throws Error on a bad token
//   c.subscribe("telemetry", {{"device_id", {1, 2}}}).get();
//
// Threads: the client runs its own I/O thread. Every public method may be called from any
// thread; every callback (handlers, reply callbacks, the token provider, on_state) runs on the
// client's thread, one at a time, so handlers need no locks among themselves. A handler must not
// block on a future of this client (the reply it waits for would be read by the thread it
// blocks); use the callback overloads there.
//
// Connection life: connect() dials, authenticates and then keeps the session up. When the
// connection drops (anything but a refused token), the client waits a full-jitter backoff
// (Options::backoff), dials again, authenticates with a fresh token from the token provider,
// restores every confirmed subscription with its filters, and asks the alerts channel for the
// alerts after the last one it delivered (`since_alert_id`), delivering none twice. Requests
// not yet answered when a connection drops are sent again on the next one. On
// `token_expiring` it asks the token provider for a new token and re-authenticates on the open
// connection. A refused token (auth_response success false, close 4001 or 4029) is fatal: no
// reconnect loop with a bad token; connect() / finished() throw Error("auth_failed").
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/backoff.hpp"
#include "client/message.hpp"
#include "client/message_queue.hpp"
#include "client/transport.hpp"

namespace valtronics::client {

struct Options {
  std::string url;    // ws://HOST:PORT/ws or wss://...; /ws/<channel> endpoints work too
  std::string token;  // used when token_provider is empty
  // Called (on the client's thread) before every authentication: the first, each reconnect,
  // and on `token_expiring`. Return the current token; returning the token already in use skips
  // the refresh. An exception from it is a fatal error ("token_provider").
  std::function<std::string()> token_provider;
  Backoff backoff;         // reconnect delays; max_attempts 0 = retry forever
  bool reconnect = true;   // false: a dropped connection is fatal ("disconnected")
  // Keepalive: a ping every interval; no pong by the next one means the connection is dead and
  // is dropped (then reconnected). 15 s finds a dead peer in at most 30 s; 0 turns it off.
  std::chrono::milliseconds ping_interval{15000};
  // Offer permessage-deflate (RFC 7692; docs/protocol.md "Compression"): about half the bytes
  // of JSON updates, at no state per connection on the server.
  bool compression = true;
  // Ask for coalesced frames (an extension, docs/protocol.md "Coalesced frames"): messages the
  // server queued together come as one JSON array frame, fewer frames to read; each still
  // reaches the handlers as its own Message. A server without the extension is used as before.
  bool coalesce = true;
  // MessagePack instead of JSON (an extension, docs/protocol.md "MessagePack"): the
  // valtronics.msgpack subprotocol, every message both ways a MessagePack binary frame. The
  // handlers get the same Messages (Message::text is then the message as JSON). A server
  // without the extension fails the upgrade.
  bool msgpack = false;
  // Bounds DNS, TCP, TLS, the upgrade and the first auth_response, each.
  std::chrono::milliseconds connect_timeout{10000};
  // A request unanswered this long after the call fails with "timeout" (it spans reconnects).
  std::chrono::milliseconds request_timeout{30000};
  // Resume alerts after a reconnect with since_alert_id (when the server refuses the option,
  // the client subscribes without it and stops asking).
  bool resume_alerts = true;
  TlsOptions tls;          // wss:// certificate checks
  std::uint64_t seed = 0;  // jitter generator seed; 0 = random
};

enum class State {
  idle,          // before connect()
  connecting,    // dialing / upgrading / authenticating
  connected,     // authenticated, subscriptions restored
  reconnecting,  // waiting for the next attempt (StateChange::delay)
  closed,        // close() was called
  failed,        // fatal error (StateChange::error)
};
const char* to_string(State s);

struct StateChange {
  State state;
  std::string detail;   // why: the error that dropped the connection, the refusal, ...
  unsigned attempt = 0; // reconnecting: the attempt about to be made (from 1)
  std::chrono::milliseconds delay{0};  // reconnecting: the backoff before it
  std::string error;    // failed: the Error code (auth_failed, gave_up, ...)
};

struct Stats {
  std::uint64_t connections = 0;  // successful authentications on a new connection
  std::uint64_t delivered = 0;    // messages handed to handlers
  std::uint64_t duplicates = 0;   // dropped as already delivered (alert state, seq)
  std::uint64_t lost = 0;         // seq numbers skipped without `conflated` explaining them
  std::uint64_t conflated = 0;    // updates the server merged (slow reader)
  std::int64_t last_alert_id = 0; // the resume point
};

using MessageHandler = std::function<void(const Message&)>;
using ReplyHandler = std::function<void(const Reply&)>;

class Client {
 public:
  explicit Client(Options options);
  ~Client();  // close() and join the client's thread
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Handlers for one message type, or for every message (on_message). Every message the server
  // sends is delivered, replies included, except pongs of keepalive pings and duplicates.
  void on(std::string type, MessageHandler handler);
  void on_message(MessageHandler handler);
  void on_state(std::function<void(const StateChange&)> handler);
  // Called for every (channel, device) subscription that leaves the restore set without an
  // unsubscribe: removed by the server after a token refresh (reason "token_refresh"; the
  // server's `error` is delivered to the handlers right after), or refused for good when
  // restored after a reconnect (reason "restore"; also each device a partial restore left out,
  // error "forbidden", the devices still covered staying). A reconnect does not ask for it again.
  void on_subscription_removed(std::function<void(const SubscriptionRemoved&)> handler);
  // A queue fed with messages of `type` ("" = every type), for pulling them on another thread.
  std::shared_ptr<MessageQueue> queue(std::string type = "", std::size_t max_size = 0);

  // Starts the session; the future is ready at the first successful auth, or throws Error on a
  // fatal error before it (auth_failed, gave_up, token_provider; "disconnected" when
  // Options::reconnect is false). Calling it again returns a future of the same outcome.
  std::shared_future<AuthInfo> connect();

  // Requests; each is sent once connected (queued until then) with a fresh `id`, and its reply
  // is matched by that id. Futures throw Error with the server's error code on an `error` reply.
  // Filters follow docs/protocol.md ({"device_id":[1,2],"metrics":["temperature"]}). A confirmed
  // subscription is restored after every reconnect; an unsubscribe removes it.
  std::future<Subscribed> subscribe(std::string channel, boost::json::object filters = {});
  void subscribe(std::string channel, boost::json::object filters, ReplyHandler done);
  std::future<Unsubscribed> unsubscribe(std::string channel,
                                        std::optional<std::int64_t> device_id = std::nullopt);
  void unsubscribe(std::string channel, std::optional<std::int64_t> device_id, ReplyHandler done);
  std::future<Pong> ping();
  void ping(ReplyHandler done);
  // Several requests in one frame (one message for the server's rate limit, at most 50). Each
  // message gets its own `id` (any given is replaced); the future holds one Reply per message,
  // in order, errors included. Subscribes and unsubscribes in a batch update the restore set.
  std::future<std::vector<Reply>> batch(std::vector<boost::json::object> messages);

  // Closes with 1000 and stops reconnecting; unanswered requests fail with "closed".
  // Idempotent; returns without waiting for the server.
  void close();

  // Ready when the client has stopped for good: after close() (value) or a fatal error (throws
  // Error). A program's main thread can wait on it.
  std::shared_future<void> finished();

  State state() const;
  Stats stats() const;

 private:
  class Session;
  std::shared_ptr<Session> session_;
};

}  // namespace valtronics::client
