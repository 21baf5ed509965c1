// Peers, interest and partition preference (membership.hpp).
#include "cluster/membership.hpp"

#include <boost/json.hpp>

#include "cluster/wire.hpp"
#include "model/enum_names.hpp"

namespace valtronics::cluster {

namespace json = boost::json;

InterestSet InterestSet::from(const std::map<hub::Interest::Key, std::size_t>& counts) {
  InterestSet s;
  for (const auto& [key, n] : counts) {
    if (n == 0) continue;
    const auto ch = static_cast<std::size_t>(key.first);
    if (key.second == 0)
      s.all[ch] = true;
    else
      s.devices[ch].insert(key.second);
  }
  for (std::size_t ch = 0; ch < model::kChannelCount; ++ch)
    if (s.all[ch]) s.devices[ch].clear();  // "every device" covers them
  return s;
}

bool InterestSet::wants(model::Channel channel, std::int64_t device) const {
  const auto ch = static_cast<std::size_t>(channel);
  return all[ch] || devices[ch].count(device) > 0;
}

void InterestSet::merge(const InterestSet& other) {
  for (std::size_t ch = 0; ch < model::kChannelCount; ++ch) {
    all[ch] = all[ch] || other.all[ch];
    if (all[ch])
      devices[ch].clear();
    else
      devices[ch].insert(other.devices[ch].begin(), other.devices[ch].end());
  }
}

std::string encode_heartbeat(const Heartbeat& h) {
  json::object interest;
  for (std::size_t ch = 0; ch < model::kChannelCount; ++ch) {
    const auto name = std::string(model::to_string(static_cast<model::Channel>(ch)));
    if (h.interest.all[ch]) {
      interest[name] = true;
    } else if (!h.interest.devices[ch].empty()) {
      json::array ids;
      for (auto d : h.interest.devices[ch]) ids.push_back(d);
      interest[name] = std::move(ids);
    }
  }
  json::array parts;
  for (auto p : h.partitions) parts.push_back(p);
  json::object users;
  for (const auto& [user, n] : h.users) users[user] = n;
  json::object o{{"node", h.node},
                 {"partitions", std::move(parts)},
                 {"interest", std::move(interest)},
                 {"connections", h.connections},
                 {"users", std::move(users)}};
  if (h.leaving) o["leaving"] = true;
  return json::serialize(o);
}

Heartbeat decode_heartbeat(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) throw wire::WireError("heartbeat: not a JSON object");
  const auto& o = v.get_object();
  Heartbeat h;
  const auto* node = o.if_contains("node");
  if (!node || !node->is_string() || node->get_string().empty())
    throw wire::WireError("heartbeat: no node id");
  h.node = std::string(node->get_string());
  if (const auto* parts = o.if_contains("partitions"); parts && parts->is_array())
    for (const auto& p : parts->get_array())
      if (p.is_int64() && p.get_int64() >= 0)
        h.partitions.push_back(static_cast<unsigned>(p.get_int64()));
  if (const auto* interest = o.if_contains("interest"); interest && interest->is_object()) {
    for (std::size_t ch = 0; ch < model::kChannelCount; ++ch) {
      const auto name = std::string(model::to_string(static_cast<model::Channel>(ch)));
      const auto* x = interest->get_object().if_contains(name);
      if (!x) continue;
      if (x->is_bool()) {
        h.interest.all[ch] = x->get_bool();
      } else if (x->is_array()) {
        for (const auto& d : x->get_array())
          if (d.is_int64()) h.interest.devices[ch].insert(d.get_int64());
      }
    }
  }
  if (const auto* c = o.if_contains("connections"); c && c->is_int64() && c->get_int64() >= 0)
    h.connections = static_cast<std::uint64_t>(c->get_int64());
  if (const auto* u = o.if_contains("users"); u && u->is_object())
    for (const auto& [user, n] : u->get_object())
      if (n.is_int64() && n.get_int64() > 0)
        h.users[std::string(user)] = static_cast<std::size_t>(n.get_int64());
  if (const auto* l = o.if_contains("leaving"); l && l->is_bool()) h.leaving = l->get_bool();
  return h;
}

namespace {
// FNV-1a, then a final mix: a stable hash of (node, partition) on every node and build.
std::uint64_t weight(const std::string& node, unsigned partition) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : node) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= partition + 0x9E3779B97F4A7C15ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}
}  // namespace

std::string preferred_owner(unsigned partition, const std::vector<std::string>& nodes) {
  std::string best;
  std::uint64_t best_weight = 0;
  for (const auto& n : nodes) {
    const auto w = weight(n, partition);
    if (best.empty() || w > best_weight || (w == best_weight && n < best)) {
      best = n;
      best_weight = w;
    }
  }
  return best;
}

bool Peers::on_heartbeat(const Heartbeat& h, Clock::time_point now) {
  if (h.leaving) return peers_.erase(h.node) > 0;
  auto [it, added] = peers_.try_emplace(h.node);
  auto& p = it->second;
  const bool changed = added || !(p.last.interest == h.interest);
  if (added) p.first_seen = now;
  p.last = h;
  p.last_seen = now;
  return changed;
}

bool Peers::expire(Clock::time_point now) {
  const auto silent = [&](const auto& kv) { return now - kv.second.last_seen > expiry_; };
  return std::erase_if(peers_, silent) > 0;
}

std::vector<std::string> Peers::live_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, p] : peers_) out.push_back(id);
  return out;
}

std::unordered_map<std::string, std::size_t> Peers::users() const {
  std::unordered_map<std::string, std::size_t> out;
  for (const auto& [id, p] : peers_)
    for (const auto& [user, n] : p.last.users) out[user] += n;
  return out;
}

InterestSet Peers::wanted() const {
  InterestSet s;
  for (const auto& [id, p] : peers_) s.merge(p.last.interest);
  return s;
}

std::uint64_t Peers::connections() const {
  std::uint64_t n = 0;
  for (const auto& [id, p] : peers_) n += p.last.connections;
  return n;
}

}  // namespace valtronics::cluster
