// MQTT ingest (issue 12; docs/mqtt.md): a client of the broker named by mqtt.url, on a thread of
// its own, that subscribes to the device topics (mqtt/topics.hpp) and hands what devices publish
// to the engine (mqtt/engine_feed.hpp), with the validation and auto-registration of HTTP
// ingest. The MQTT protocol is libmosquitto's (Debian libmosquitto-dev); this file only runs it.
//
// The thread polls the socket itself (mosquitto_loop_read/write/misc) rather than calling
// mosquitto_loop, which waits with select(): a server holding thousands of connections has
// descriptors past select's limit of 1024.
//
// When the broker is unreachable or goes away, the link reconnects with exponential backoff
// (0.5 s doubling to 30 s) and subscribes again; its state is util::LinkStatus, reported by
// /health and /api/v1/ws/stats. The session is persistent (clean session off, a stable client
// id), so QoS 1 messages published while the link was down are delivered when it is back.
// A bad topic or payload is counted and logged at most once per device per minute; it never
// stops the link.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "auth/log_throttle.hpp"
#include "config/config.hpp"
#include "engine/engine.hpp"
#include "mqtt/broker_url.hpp"
#include "mqtt/engine_feed.hpp"
#include "util/link_status.hpp"

struct mosquitto;
struct mosquitto_message;

namespace valtronics::mqtt {

class IngestLink {
 public:
  // `cfg` passed config::validate; mqtt.url is parsed here (config::ConfigError naming it).
  // Nothing connects before start().
  IngestLink(const config::Config& cfg, engine::Engine& engine);
  ~IngestLink();
  IngestLink(const IngestLink&) = delete;
  IngestLink& operator=(const IngestLink&) = delete;

  void start();
  // Disconnects, ends the thread, and waits (at most `drain`) for what it read to be applied.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(5));

  const util::LinkStatus& status() const { return status_; }
  const std::string& client_id() const { return client_id_; }

 private:
  void run();
  // One connection, from the connect to its end; returns why it ended ("" when stopped).
  std::string connected_session();
  void on_connect(int rc);
  void on_message(const mosquitto_message& msg);
  // A message or a reading refused: counted by the caller, logged here within the throttle.
  void refused(std::int64_t device, const std::string& topic, const std::string& why);
  void wait_backoff(std::chrono::milliseconds d);  // returns early on stop()
  void lost_at_stop();  // a message the feed refused because stop() was called

  static void connect_cb(mosquitto*, void* self, int rc);
  static void message_cb(mosquitto*, void* self, const mosquitto_message* msg);

  const config::MqttConfig cfg_;
  BrokerUrl url_;
  std::string client_id_;
  std::string share_group_;  // cluster.name when clustered: $share/{group}/... subscriptions
  std::string username_, password_;
  util::LinkStatus status_;
  EngineFeed feed_;
  mosquitto* mosq_ = nullptr;
  int wake_fd_ = -1;  // an eventfd: stop() wakes the thread's poll
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  // Set by on_connect on the link's thread: the CONNACK's answer for this connection.
  bool connack_ok_ = false;
  std::string connack_error_;
  std::mutex log_mu_;  // refusals are logged from the link's thread and the engine's
  auth::LogThrottle log_throttle_;
};

}  // namespace valtronics::mqtt
