// The MQTT ingest link's thread: connect, subscribe, poll, back off (see ingest_link.hpp).
#include "mqtt/ingest_link.hpp"

#include "metrics/counters.hpp"

#include <mosquitto.h>
#include <boost/json/parse.hpp>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "api/device_json.hpp"
#include "api/ingest_body.hpp"
#include "mqtt/topics.hpp"
#include "util/time.hpp"
#include "util/thread_name.hpp"

namespace valtronics::mqtt {

namespace {

constexpr auto kBackoffFirst = std::chrono::milliseconds(500);
constexpr auto kBackoffMax = std::chrono::milliseconds(30'000);
constexpr int kKeepaliveSeconds = 30;
// Messages read per wake-up at most before the thread looks at its other duties (pings,
// stop); each read is one packet.
constexpr int kReadsPerWake = 4096;
// Bad messages: one line per device per minute, 120 lines a minute in all.
constexpr auto kLogPeriod = std::chrono::minutes(1);
constexpr std::size_t kLogKeys = 10'000;
constexpr std::size_t kLogLines = 120;

std::once_flag lib_init;

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

std::string default_client_id(const config::Config& cfg) {
  // Stable across restarts (the broker keeps the session's QoS 1 messages for it), distinct
  // per node. Port 0 (any free port) has no stable name: the process id keeps servers apart.
  const std::string where =
      cfg.listen_port ? std::to_string(cfg.listen_port) : "pid" + std::to_string(::getpid());
  std::string id = "valtronics-" + host_name() + "-" + where;
  if (id.size() > 64) id.resize(64);  // brokers may refuse long ids (MQTT 3.1.1 promises 23)
  return id;
}

std::string describe(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}

BrokerUrl parse_or_throw(const std::string& text) {
  std::string why;
  auto url = parse_broker_url(text, why);
  if (!url) throw config::ConfigError("mqtt.url: '" + text + "' " + why);
  return *url;
}

}  // namespace

IngestLink::IngestLink(const config::Config& cfg, engine::Engine& engine)
    : cfg_(cfg.mqtt),
      url_(parse_or_throw(cfg_.url)),
      status_(url_.display()),
      feed_(engine, status_,
            [this](std::int64_t device, const model::DomainError& e) {
              refused(device, "", e.message);
            }),
      log_throttle_(kLogPeriod, kLogKeys, kLogLines) {
  client_id_ = cfg_.client_id.empty() ? default_client_id(cfg) : cfg_.client_id;
  // Clustered: one shared subscription group, so each message is ingested by one node.
  if (cfg.cluster.enabled()) share_group_ = cfg.cluster.name;
  username_ = cfg_.username.empty() ? url_.username : cfg_.username;
  password_ = cfg_.password.empty() ? url_.password : cfg_.password;
  // Checked here, at start-up, rather than by libmosquitto when the link starts: its refusal
  // says only "invalid function arguments".
  if (!cfg_.ca_file.empty() && ::access(cfg_.ca_file.c_str(), R_OK) != 0)
    throw config::ConfigError("mqtt.ca_file: cannot read '" + cfg_.ca_file +
                              "': " + std::strerror(errno));
}

IngestLink::~IngestLink() {
  stop(std::chrono::milliseconds(0));
  if (mosq_) mosquitto_destroy(mosq_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void IngestLink::start() {
  std::call_once(lib_init, [] { mosquitto_lib_init(); });
  mosq_ = mosquitto_new(client_id_.c_str(), /*clean_session=*/false, this);
  if (!mosq_) throw std::runtime_error("mqtt: cannot create a client: " + describe(MOSQ_ERR_ERRNO));
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  if (!username_.empty())
    mosquitto_username_pw_set(mosq_, username_.c_str(),
                              password_.empty() ? nullptr : password_.c_str());
  if (url_.tls) {
    // The broker's certificate is verified against mqtt.ca_file, or the system's CAs.
    const int rc = mosquitto_tls_set(mosq_, cfg_.ca_file.empty() ? nullptr : cfg_.ca_file.c_str(),
                                     cfg_.ca_file.empty() ? "/etc/ssl/certs" : nullptr, nullptr,
                                     nullptr, nullptr);
    if (rc != MOSQ_ERR_SUCCESS)
      throw config::ConfigError("mqtt.ca_file: '" + cfg_.ca_file + "': " + describe(rc));
  }
  mosquitto_connect_callback_set(mosq_, &IngestLink::connect_cb);
  mosquitto_message_callback_set(mosq_, &IngestLink::message_cb);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::runtime_error(std::string("mqtt: eventfd: ") + std::strerror(errno));
  spdlog::info("mqtt: ingesting from {} as client {} (topics {}/devices/+/...)", url_.display(),
               client_id_, cfg_.topic_prefix);
  thread_ = std::thread([this] {
    util::name_this_thread("vt-mqtt");
    run();
  });
}

void IngestLink::stop(std::chrono::milliseconds drain) {
  if (!stopping_.exchange(true) && wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
  // A push() waiting for room in a full queue (the storage refusing writes) gives up, so the
  // thread can end; what is queued stays queued.
  feed_.stop();
  if (thread_.joinable()) thread_.join();
  // What was read is applied before the engine stops.
  if (drain.count() > 0 && !feed_.wait_idle(drain))
    spdlog::warn("mqtt: {} message(s) read from the broker were not applied before shutdown",
                 feed_.queued());
}

void IngestLink::run() {
  auto backoff = kBackoffFirst;
  bool first = true;
  while (!stopping_) {
    status_.set(util::LinkStatus::State::connecting, status_.snapshot().error);
    const int rc = first ? mosquitto_connect_async(mosq_, url_.host.c_str(), url_.port,
                                                   kKeepaliveSeconds)
                         : mosquitto_reconnect_async(mosq_);
    std::string why;
    if (rc == MOSQ_ERR_SUCCESS) {
      first = false;
      why = connected_session();
      if (connack_ok_) backoff = kBackoffFirst;  // it was up: start the backoff again
    } else {
      why = describe(rc);
      // A failed first connect leaves no host set for a reconnect: connect again next time.
    }
    if (stopping_) break;
    status_.set(util::LinkStatus::State::disconnected, why);
    spdlog::warn("mqtt: {} unreachable or lost ({}); trying again in {} ms", url_.display(), why,
                 backoff.count());
    wait_backoff(backoff);
    backoff = std::min(backoff * 2, kBackoffMax);
  }
  if (mosq_) {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_write(mosq_, 1);  // the DISCONNECT, so the broker ends the session cleanly
  }
  status_.set(util::LinkStatus::State::disconnected, "stopped");
}

std::string IngestLink::connected_session() {
  connack_ok_ = false;
  connack_error_.clear();
  while (!stopping_) {
    const int fd = mosquitto_socket(mosq_);
    if (fd < 0) return "connection closed";
    pollfd fds[2] = {{fd, static_cast<short>(POLLIN | (mosquitto_want_write(mosq_) ? POLLOUT : 0)), 0},
                     {wake_fd_, POLLIN, 0}};
    // A second at most between looks at the keepalive timers (mosquitto_loop_misc).
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return std::string("poll: ") + std::strerror(errno);
    if (stopping_) return "";
    int rc = MOSQ_ERR_SUCCESS;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      // libmosquitto reads one packet per call and returns success also when the socket had
      // nothing (more) to give, leaving errno at EAGAIN from its read(): read on until then,
      // up to kReadsPerWake, with no extra system call per message to ask what is left.
      for (int i = 0; i < kReadsPerWake; ++i) {
        errno = 0;
        rc = mosquitto_loop_read(mosq_, 1);
        if (rc != MOSQ_ERR_SUCCESS || errno == EAGAIN || errno == EWOULDBLOCK) break;
      }
    }
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(mosq_)) rc = mosquitto_loop_write(mosq_, 1);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_loop_misc(mosq_);
    feed_.pump();  // a batch held back while the storage refused writes
    if (!connack_error_.empty()) return connack_error_;
    if (rc != MOSQ_ERR_SUCCESS) return rc == MOSQ_ERR_CONN_LOST ? "connection lost" : describe(rc);
  }
  return "";
}

void IngestLink::connect_cb(mosquitto*, void* self, int rc) {
  static_cast<IngestLink*>(self)->on_connect(rc);
}

void IngestLink::message_cb(mosquitto*, void* self, const mosquitto_message* msg) {
  static_cast<IngestLink*>(self)->on_message(*msg);
}

void IngestLink::on_connect(int rc) {
  if (rc != 0) {
    connack_error_ = std::string("refused by the broker: ") + mosquitto_connack_string(rc);
    return;
  }
  connack_ok_ = true;
  // A persistent session keeps its subscriptions, but the broker may have lost it (restarted
  // without persistence): subscribing again costs nothing and covers both.
  const auto topics = subscriptions(cfg_.topic_prefix, share_group_);
  std::vector<char*> subs;
  for (const auto& t : topics) subs.push_back(const_cast<char*>(t.c_str()));
  const int sub =
      mosquitto_subscribe_multiple(mosq_, nullptr, static_cast<int>(subs.size()), subs.data(),
                                   cfg_.qos, 0, nullptr);
  if (sub != MOSQ_ERR_SUCCESS) {
    connack_error_ = "subscribe: " + describe(sub);
    return;
  }
  status_.set(util::LinkStatus::State::connected);
  spdlog::info("mqtt: connected to {}, subscribed to {}{}/devices/+/telemetry[/+] and /status "
               "(QoS {})",
               url_.display(), share_group_.empty() ? "" : "$share/" + share_group_ + "/",
               cfg_.topic_prefix, cfg_.qos);
}

void IngestLink::on_message(const mosquitto_message& msg) {
  ++status_.messages;
  const std::string_view topic(msg.topic ? msg.topic : "");
  const std::string_view payload(static_cast<const char*>(msg.payload),
                                 msg.payload ? static_cast<std::size_t>(msg.payloadlen) : 0);
  std::string why;
  const auto t = parse_topic(topic, cfg_.topic_prefix, why);
  if (!t) {
    ++status_.rejected;
    return refused(0, std::string(topic), why);
  }
  if (t->kind == Topic::Kind::status) {
    // An empty message clears a retained one (a device's Last Will, say): not a report.
    if (payload.empty()) return;
    boost::system::error_code ec;
    const auto body = boost::json::parse(payload, ec);
    if (ec) {
      ++status_.rejected;
      return refused(t->device_id, std::string(topic),
                     "body is not valid JSON (" + ec.message() + ")");
    }
    auto report = api::status_report_from_json(body);
    if (!report) {
      ++status_.rejected;
      return refused(t->device_id, std::string(topic), report.error().message);
    }
    if (!feed_.push(t->device_id, std::move(*report))) lost_at_stop();
    return;
  }
  const auto now = util::Clock::now();
  auto events = t->kind == Topic::Kind::metric
                    ? api::parse_metric(payload, t->device_id, t->metric, now)
                    : api::parse_for_device(payload, t->device_id, now);
  if (!events) {
    ++status_.rejected;
    // An unreadable telemetry message counts as one rejected reading (GET /metrics).
    metrics::add(metrics::at(metrics::slot::readings_rejected, metrics::Source::mqtt));
    return refused(t->device_id, std::string(topic), events.error().message);
  }
  for (auto& e : *events)
    if (!feed_.push(std::move(e))) lost_at_stop();
}

void IngestLink::lost_at_stop() {
  ++status_.rejected;
  spdlog::warn("mqtt: a message read during shutdown was not applied: the queue to the engine "
               "was full (storage unavailable)");
}

void IngestLink::refused(std::int64_t device, const std::string& topic, const std::string& why) {
  const std::string key = device ? "device " + std::to_string(device) : "topic " + topic;
  std::lock_guard lock(log_mu_);
  const auto line = log_throttle_.note(key, std::chrono::steady_clock::now(), 1);
  if (!line) return;
  spdlog::warn("mqtt: message {}refused{}: {} (logged once per device per minute{})",
               topic.empty() ? "" : "on " + topic.substr(0, 200) + " ",
               device ? " for device " + std::to_string(device) : "", why,
               line->suppressed ? "; " + std::to_string(line->suppressed) + " other lines skipped"
                                : "");
}

void IngestLink::wait_backoff(std::chrono::milliseconds d) {
  pollfd wake{wake_fd_, POLLIN, 0};
  const auto end = std::chrono::steady_clock::now() + d;
  while (!stopping_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    ::poll(&wake, 1, static_cast<int>(std::min<long>(left.count(), 1000)));
    feed_.pump();
  }
}

}  // namespace valtronics::mqtt
