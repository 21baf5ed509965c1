// The MQTT side of `valtronics simulate --mqtt`: a libmosquitto client publishing the fleet's
// readings to a broker, one reading per PUBLISH, as sensors do. libmosquitto runs its own
// network thread here (mosquitto_loop_start), which also reconnects after a lost connection;
// the command holds a handful of descriptors, so that thread's select() is safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "mqtt/broker_url.hpp"

struct mosquitto;

namespace valtronics::cli {

class MqttPublisher {
 public:
  // `qos` 0, 1 or 2; `ca_file` for mqtts:// (empty: the system's CAs).
  MqttPublisher(const mqtt::BrokerUrl& url, const std::string& ca_file, int qos);
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // Connects and waits for the broker's CONNACK, at most `timeout`; throws std::runtime_error
  // saying why it could not (refused, unreachable, timed out).
  void connect(std::chrono::milliseconds timeout);
  // Queues one message; false (nothing queued) while the connection is down.
  bool publish(const std::string& topic, const std::string& payload);
  // Waits until every message published so far was acknowledged (QoS 1 and 2; sent, for 0),
  // at most `timeout`; returns how many are still outstanding.
  std::uint64_t wait_acknowledged(std::chrono::milliseconds timeout);

  bool connected() const { return connected_; }
  std::uint64_t acknowledged() const { return acknowledged_; }

 private:
  static void on_connect(mosquitto*, void* self, int rc);
  static void on_disconnect(mosquitto*, void* self, int rc);
  static void on_publish(mosquitto*, void* self, int mid);

  mqtt::BrokerUrl url_;
  int qos_;
  mosquitto* mosq_ = nullptr;
  std::mutex mu_;
  std::condition_variable changed_;
  std::atomic<bool> connected_{false};
  int connack_ = -1;  // the last CONNACK's code (-1: none yet)
  std::atomic<std::uint64_t> published_{0}, acknowledged_{0};
};

}  // namespace valtronics::cli
