// The client's mirror of its server-side subscriptions; see subscriptions.hpp.
#include "client/subscriptions.hpp"

#include <boost/json/serialize.hpp>
#include <algorithm>

namespace valtronics::client {

namespace json = boost::json;

namespace {
// Equal filters must group whatever their key order: keys sorted, values serialized.
std::string canonical(const json::object& o) {
  std::vector<std::pair<std::string_view, std::string>> kv;
  for (const auto& [k, v] : o) kv.emplace_back(k, json::serialize(v));
  std::sort(kv.begin(), kv.end());
  std::string out;
  for (const auto& [k, v] : kv) out.append(k).append("=").append(v).append(";");
  return out;
}
}  // namespace

void SubscriptionSet::confirm(std::string_view channel, const json::object& filters) {
  // Copied key by key: json::object::erase moves the last key into the hole, and the restore
  // messages read best in the server's order.
  json::object rest;
  for (const auto& [k, v] : filters)
    if (k != "device_id" && k != "since_alert_id") rest[k] = v;
  std::vector<std::int64_t> devices;
  if (auto* ids = filters.if_contains("device_id")) {
    if (ids->is_array()) {
      for (const auto& v : ids->get_array())
        if (v.is_int64()) devices.push_back(v.get_int64());
    } else if (ids->is_int64()) {
      devices.push_back(ids->get_int64());
    }
  }
  if (devices.empty()) devices.push_back(0);
  for (auto d : devices) keys_[{std::string(channel), d}] = rest;
}

void SubscriptionSet::remove(std::string_view channel, std::optional<std::int64_t> device_id) {
  if (device_id) {
    keys_.erase({std::string(channel), *device_id});
    return;
  }
  for (auto it = keys_.begin(); it != keys_.end();)
    it = it->first.first == channel ? keys_.erase(it) : std::next(it);
}

bool SubscriptionSet::has_channel(std::string_view channel) const {
  for (const auto& [key, filters] : keys_)
    if (key.first == channel) return true;
  return false;
}

std::vector<json::object> SubscriptionSet::restore_messages(
    std::optional<std::int64_t> resume_after) const {
  // Group by (channel, canonical filters).
  struct Group {
    std::string channel;
    const json::object* filters;
    std::vector<std::int64_t> devices;
    bool every_device = false;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
  std::vector<std::pair<std::string, std::string>> order;  // first-seen order, for stable output
  for (const auto& [key, filters] : keys_) {
    std::pair<std::string, std::string> gk{key.first, canonical(filters)};
    auto [it, fresh] = groups.try_emplace(gk, Group{key.first, &filters, {}, false});
    if (fresh) order.push_back(gk);
    if (key.second == 0) it->second.every_device = true;
    else it->second.devices.push_back(key.second);
  }

  std::vector<json::object> out;
  auto emit = [&](const Group& g, const std::vector<std::int64_t>* devices) {
    json::object f = *g.filters;
    if (devices) {
      json::array ids;
      for (auto d : *devices) ids.emplace_back(d);
      f["device_id"] = std::move(ids);
    }
    if (g.channel == "alerts" && resume_after) f["since_alert_id"] = *resume_after;
    json::object m;
    m["type"] = "subscribe";
    m["channel"] = g.channel;
    m["filters"] = std::move(f);
    out.push_back(std::move(m));
  };
  for (const auto& gk : order) {
    const auto& g = groups.at(gk);
    // The "every device" key and the per-device keys are distinct server-side keys: each needs
    // its own message (a device list never creates the every-device key and vice versa).
    if (g.every_device) emit(g, nullptr);
    if (!g.devices.empty()) emit(g, &g.devices);
  }
  return out;
}

}  // namespace valtronics::client
