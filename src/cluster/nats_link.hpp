// (issue 12) The node's connection to NATS: cnats (Debian libnats-dev) runs the protocol, this
// file only holds its handles. The connection is made in the background and retried for as long
// as the node runs; cnats reconnects by itself (every 0.5 s) and sends the subscriptions again.
// Its state is a util::LinkStatus for /health and the stats.
//
// Every message handler runs on cnats' one global delivery thread, in arrival order across all
// subscriptions (natsOptions_UseGlobalMessageDelivery): handlers must be quick and hand work on.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/link_status.hpp"

struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;
struct __jsCtx;
struct __kvStore;

namespace valtronics::cluster {

class NatsLink {
 public:
  // subject, payload, reply subject ("" when none)
  using Handler = std::function<void(std::string_view, std::string_view, std::string_view)>;

  // The URLs as logs and /health show them: a password replaced by "***".
  static std::string display(const std::string& urls);

  // `urls`: one or several nats:// (or tls://) URLs, comma-separated, credentials in them if
  // the server wants some (nats://USER:PASSWORD@HOST:PORT). `name`: the connection's name, as
  // the NATS server's monitoring shows it. Nothing connects before start().
  NatsLink(std::string urls, std::string name);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  void start();
  // Flushes what is buffered (at most `drain`), then closes. Handlers do not run after it.
  void stop(std::chrono::milliseconds drain);

  bool connected() const;
  const util::LinkStatus& status() const { return status_; }

  // Thread-safe. False when cnats refused it (closed, or its reconnect buffer is full): the
  // message is not sent. While disconnected, cnats buffers what is published (8 MB).
  bool publish(const std::string& subject, std::string_view data, const std::string& reply = {});

  // A subscription, ended by destroying it (thread-safe).
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    friend class NatsLink;
    Subscription() = default;
    __natsSubscription* sub_ = nullptr;
    std::unique_ptr<Handler> handler_;
  };
  // Null (and logged) when cnats refused it.
  std::unique_ptr<Subscription> subscribe(const std::string& subject, Handler handler);

  // ---- JetStream key-value (the partition leases)
  // Binds to (creating when missing) bucket `bucket` whose entries expire `ttl` after their
  // last write; keeps one value per key. False, with the reason logged, when JetStream is not
  // reachable (the caller tries again later).
  bool open_bucket(const std::string& bucket, std::chrono::milliseconds ttl);
  struct Entry {
    std::string value;
    std::uint64_t revision = 0;
  };
  enum class KvResult { ok, conflict, error };
  // nullopt: no live value (never set, deleted or expired); error: nullopt too, `*failed` set.
  std::optional<Entry> kv_get(const std::string& key, bool* failed = nullptr);
  // Sets the key only if it has no live value; `revision` gets the new one.
  KvResult kv_create(const std::string& key, std::string_view value, std::uint64_t& revision);
  // Sets the key only if its current revision is `last`; `revision` gets the new one.
  KvResult kv_update(const std::string& key, std::string_view value, std::uint64_t last,
                     std::uint64_t& revision);
  bool kv_delete(const std::string& key);

 private:
  static void on_message(__natsConnection*, __natsSubscription*, __natsMsg* msg,
                         void* closure);
  static void on_disconnected(__natsConnection*, void* self);
  static void on_reconnected(__natsConnection*, void* self);
  static void on_connected(__natsConnection*, void* self);

  std::string urls_, name_, display_;
  util::LinkStatus status_;
  __natsConnection* nc_ = nullptr;
  __jsCtx* js_ = nullptr;
  __kvStore* kv_ = nullptr;
};

}  // namespace valtronics::cluster
