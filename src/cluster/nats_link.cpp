// cnats handles and their callbacks (nats_link.hpp).
#include "cluster/nats_link.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <vector>

namespace valtronics::cluster {

namespace {

std::string error_text(natsStatus s) {
  const char* last = nats_GetLastError(nullptr);
  std::string text = natsStatus_GetText(s);
  if (last && *last && text != last) text += std::string(": ") + last;
  return text;
}

std::vector<std::string> split_urls(const std::string& urls) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= urls.size()) {
    auto end = urls.find(',', start);
    if (end == std::string::npos) end = urls.size();
    auto part = urls.substr(start, end - start);
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    while (!part.empty() && part.back() == ' ') part.pop_back();
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string NatsLink::display(const std::string& urls) {
  std::string out;
  for (const auto& u : split_urls(urls)) {
    if (!out.empty()) out += ",";
    const auto scheme = u.find("://");
    const auto start = scheme == std::string::npos ? 0 : scheme + 3;
    const auto at = u.find('@', start);
    const auto colon = u.find(':', start);
    if (at == std::string::npos)
      out += u;
    else if (colon != std::string::npos && colon < at)  // USER:PASSWORD@
      out += u.substr(0, colon + 1) + "***" + u.substr(at);
    else  // TOKEN@
      out += u.substr(0, start) + "***" + u.substr(at);
  }
  return out;
}

NatsLink::NatsLink(std::string urls, std::string name)
    : urls_(std::move(urls)), name_(std::move(name)), display_(display(urls_)),
      status_(display_) {}

NatsLink::~NatsLink() { stop(std::chrono::milliseconds(0)); }

void NatsLink::start() {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK)
    throw std::runtime_error("cnats: no memory for options");
  const auto urls = split_urls(urls_);
  std::vector<const char*> servers;
  for (const auto& u : urls) servers.push_back(u.c_str());
  natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  natsOptions_SetName(opts, name_.c_str());
  natsOptions_SetMaxReconnect(opts, -1);   // for as long as the node runs
  natsOptions_SetReconnectWait(opts, 500);
  natsOptions_SetPingInterval(opts, 2000);  // a dead server is noticed within a few seconds
  natsOptions_SetTimeout(opts, 2000);
  natsOptions_SetNoEcho(opts, true);  // a node never receives what it published itself
  natsOptions_UseGlobalMessageDelivery(opts, true);
  natsOptions_SetDisconnectedCB(opts, &NatsLink::on_disconnected, this);
  natsOptions_SetReconnectedCB(opts, &NatsLink::on_reconnected, this);
  natsOptions_SetRetryOnFailedConnect(opts, true, &NatsLink::on_connected, this);
  status_.set(util::LinkStatus::State::connecting);
  const natsStatus s = natsConnection_Connect(&nc_, opts);
  natsOptions_Destroy(opts);
  if (s == NATS_OK) {
    status_.set(util::LinkStatus::State::connected);
    spdlog::info("cluster: connected to NATS {}", display_);
  } else if (s == NATS_NOT_YET_CONNECTED) {
    status_.set(util::LinkStatus::State::connecting, "not reachable yet; retrying");
    spdlog::warn("cluster: NATS {} not reachable yet; retrying in the background", display_);
  } else {
    throw std::runtime_error("cluster.nats_url: cannot use " + display_ + ": " + error_text(s));
  }
}

void NatsLink::stop(std::chrono::milliseconds drain) {
  if (!nc_) return;
  if (drain.count() > 0) natsConnection_FlushTimeout(nc_, drain.count());
  if (kv_) kvStore_Destroy(kv_);
  if (js_) jsCtx_Destroy(js_);
  kv_ = nullptr;
  js_ = nullptr;
  natsConnection_Close(nc_);
  natsConnection_Destroy(nc_);
  nc_ = nullptr;
  status_.set(util::LinkStatus::State::disconnected, "stopped");
}

bool NatsLink::connected() const {
  return nc_ && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED;
}

bool NatsLink::publish(const std::string& subject, std::string_view data,
                       const std::string& reply) {
  if (!nc_) return false;
  const natsStatus s =
      reply.empty()
          ? natsConnection_Publish(nc_, subject.c_str(), data.data(), static_cast<int>(data.size()))
          : natsConnection_PublishRequest(nc_, subject.c_str(), reply.c_str(), data.data(),
                                          static_cast<int>(data.size()));
  return s == NATS_OK;
}

NatsLink::Subscription::~Subscription() {
  if (sub_) {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }
}

std::unique_ptr<NatsLink::Subscription> NatsLink::subscribe(const std::string& subject,
                                                            Handler handler) {
  if (!nc_) return nullptr;
  std::unique_ptr<Subscription> sub(new Subscription());
  sub->handler_ = std::make_unique<Handler>(std::move(handler));
  const natsStatus s = natsConnection_Subscribe(&sub->sub_, nc_, subject.c_str(),
                                                &NatsLink::on_message, sub->handler_.get());
  if (s != NATS_OK) {
    spdlog::error("cluster: cannot subscribe to {}: {}", subject, error_text(s));
    sub->sub_ = nullptr;
    return nullptr;
  }
  // cnats drops messages past a subscription's pending limit (64k by default): a burst of
  // telemetry must wait in memory instead.
  natsSubscription_SetPendingLimits(sub->sub_, 4'000'000, 1 << 30);
  return sub;
}

void NatsLink::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  const auto& handler = *static_cast<Handler*>(closure);
  const char* reply = natsMsg_GetReply(msg);
  try {
    const std::string_view data(natsMsg_GetData(msg),
                                static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    handler(natsMsg_GetSubject(msg), data, reply ? std::string_view(reply) : std::string_view());
  } catch (const std::exception& e) {
    spdlog::error("cluster: handling a message on {}: {}", natsMsg_GetSubject(msg), e.what());
  }
  natsMsg_Destroy(msg);
}

void NatsLink::on_disconnected(natsConnection*, void* self) {
  auto* link = static_cast<NatsLink*>(self);
  link->status_.set(util::LinkStatus::State::disconnected, "connection lost; reconnecting");
  spdlog::warn("cluster: NATS connection lost; reconnecting");
}
void NatsLink::on_reconnected(natsConnection*, void* self) {
  static_cast<NatsLink*>(self)->status_.set(util::LinkStatus::State::connected);
  spdlog::info("cluster: NATS connection back");
}
void NatsLink::on_connected(natsConnection*, void* self) {
  static_cast<NatsLink*>(self)->status_.set(util::LinkStatus::State::connected);
  spdlog::info("cluster: connected to NATS");
}

bool NatsLink::open_bucket(const std::string& bucket, std::chrono::milliseconds ttl) {
  if (kv_) return true;
  if (!nc_) return false;
  if (!js_) {
    const natsStatus s = natsConnection_JetStream(&js_, nc_, nullptr);
    if (s != NATS_OK) {
      spdlog::warn("cluster: JetStream: {}", error_text(s));
      js_ = nullptr;
      return false;
    }
  }
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = bucket.c_str();
  kc.Description = "Valtronics partition leases";
  kc.History = 1;
  // nanoseconds, as the stream's MaxAge (nats.c 3.4 passes it on as it is)
  kc.TTL = std::chrono::duration_cast<std::chrono::nanoseconds>(ttl).count();
  natsStatus s = js_CreateKeyValue(&kv_, js_, &kc);
  std::string create_error;
  if (s != NATS_OK) {
    // Made by another node, perhaps with other settings: use it as it is.
    create_error = error_text(s);
    kv_ = nullptr;
    s = js_KeyValue(&kv_, js_, bucket.c_str());
  }
  if (s != NATS_OK) {
    spdlog::warn("cluster: lease bucket {}: {}; {} (is JetStream on? nats-server -js)", bucket,
                 create_error, error_text(s));
    kv_ = nullptr;
    return false;
  }
  return true;
}

std::optional<NatsLink::Entry> NatsLink::kv_get(const std::string& key, bool* failed) {
  if (failed) *failed = false;
  if (!kv_) {
    if (failed) *failed = true;
    return std::nullopt;
  }
  kvEntry* e = nullptr;
  const natsStatus s = kvStore_Get(&e, kv_, key.c_str());
  if (s == NATS_NOT_FOUND) return std::nullopt;
  if (s != NATS_OK) {
    if (failed) *failed = true;
    return std::nullopt;
  }
  std::optional<Entry> out;
  if (kvEntry_Operation(e) == kvOp_Put)
    out = Entry{std::string(static_cast<const char*>(kvEntry_Value(e)),
                            static_cast<std::size_t>(kvEntry_ValueLen(e))),
                kvEntry_Revision(e)};
  kvEntry_Destroy(e);
  return out;
}

NatsLink::KvResult NatsLink::kv_create(const std::string& key, std::string_view value,
                                       std::uint64_t& revision) {
  if (!kv_) return KvResult::error;
  const natsStatus s =
      kvStore_Create(&revision, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
  if (s == NATS_OK) return KvResult::ok;
  if (s == NATS_TIMEOUT) return KvResult::error;
  // The server refuses with "wrong last sequence" when the key has a live value.
  return connected() ? KvResult::conflict : KvResult::error;
}

NatsLink::KvResult NatsLink::kv_update(const std::string& key, std::string_view value,
                                       std::uint64_t last, std::uint64_t& revision) {
  if (!kv_) return KvResult::error;
  const natsStatus s = kvStore_Update(&revision, kv_, key.c_str(), value.data(),
                                      static_cast<int>(value.size()), last);
  if (s == NATS_OK) return KvResult::ok;
  if (s == NATS_TIMEOUT) return KvResult::error;
  return connected() ? KvResult::conflict : KvResult::error;
}

bool NatsLink::kv_delete(const std::string& key) {
  return kv_ && kvStore_Delete(kv_, key.c_str()) == NATS_OK;
}

}  // namespace valtronics::cluster
