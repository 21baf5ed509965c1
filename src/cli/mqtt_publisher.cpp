// libmosquitto behind `simulate --mqtt` (see mqtt_publisher.hpp).
#include "cli/mqtt_publisher.hpp"

#include <mosquitto.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace valtronics::cli {

namespace {
std::string describe(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}
}  // namespace

MqttPublisher::MqttPublisher(const mqtt::BrokerUrl& url, const std::string& ca_file, int qos)
    : url_(url), qos_(qos) {
  mosquitto_lib_init();
  // A clean session with a generated id: a simulator has nothing to resume.
  mosq_ = mosquitto_new(nullptr, true, this);
  if (!mosq_) throw std::runtime_error("cannot create an MQTT client: " + describe(MOSQ_ERR_ERRNO));
  if (!url_.username.empty())
    mosquitto_username_pw_set(mosq_, url_.username.c_str(),
                              url_.password.empty() ? nullptr : url_.password.c_str());
  if (url_.tls) {
    const int rc = mosquitto_tls_set(mosq_, ca_file.empty() ? nullptr : ca_file.c_str(),
                                     ca_file.empty() ? "/etc/ssl/certs" : nullptr, nullptr,
                                     nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error("--ca-file: " + describe(rc));
  }
  // Readings are queued by the library while earlier ones await their PUBACK: let many be in
  // flight, or one round trip per 20 messages would bound the rate.
  mosquitto_int_option(mosq_, MOSQ_OPT_SEND_MAXIMUM, 1000);
  mosquitto_connect_callback_set(mosq_, &MqttPublisher::on_connect);
  mosquitto_disconnect_callback_set(mosq_, &MqttPublisher::on_disconnect);
  mosquitto_publish_callback_set(mosq_, &MqttPublisher::on_publish);
}

MqttPublisher::~MqttPublisher() {
  if (mosq_) {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
    mosquitto_destroy(mosq_);
  }
}

void MqttPublisher::connect(std::chrono::milliseconds timeout) {
  int rc = mosquitto_connect_async(mosq_, url_.host.c_str(), url_.port, 30);
  if (rc != MOSQ_ERR_SUCCESS)
    throw std::runtime_error("cannot reach " + url_.display() + ": " + describe(rc));
  rc = mosquitto_loop_start(mosq_);
  if (rc != MOSQ_ERR_SUCCESS) throw std::runtime_error("MQTT thread: " + describe(rc));
  std::unique_lock lock(mu_);
  if (!changed_.wait_for(lock, timeout, [&] { return connack_ >= 0; }))
    throw std::runtime_error("no answer from " + url_.display() + " within " +
                             std::to_string(timeout.count()) + " ms");
  if (connack_ != 0)
    throw std::runtime_error(url_.display() + " refused the connection: " +
                             mosquitto_connack_string(connack_));
}

bool MqttPublisher::publish(const std::string& topic, const std::string& payload) {
  if (!connected_) return false;
  const int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos_, false);
  if (rc != MOSQ_ERR_SUCCESS) return false;
  ++published_;
  return true;
}

std::uint64_t MqttPublisher::wait_acknowledged(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return acknowledged_ >= published_; });
  return published_ - std::min<std::uint64_t>(acknowledged_, published_);
}

void MqttPublisher::on_connect(mosquitto*, void* self, int rc) {
  auto* p = static_cast<MqttPublisher*>(self);
  std::lock_guard lock(p->mu_);
  p->connack_ = rc;
  p->connected_ = rc == 0;
  p->changed_.notify_all();
}

void MqttPublisher::on_disconnect(mosquitto*, void* self, int) {
  static_cast<MqttPublisher*>(self)->connected_ = false;
}

void MqttPublisher::on_publish(mosquitto*, void* self, int) {
  auto* p = static_cast<MqttPublisher*>(self);
  ++p->acknowledged_;
  std::lock_guard lock(p->mu_);
  p->changed_.notify_all();
}

}  // namespace valtronics::cli
