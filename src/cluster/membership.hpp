// (issue 12) The other nodes of the cluster as their heartbeats show them, and what each wants
// to receive. Pure bookkeeping, thread-safe by its owner's mutex (cluster/node.hpp): no I/O.
//
// Interest: a node announces, per channel, "every device" or the devices its connections
// subscribe to (hub/interest.hpp); the others publish an event to NATS only when some live node
// wants it. Partition preference: rendezvous hashing over the live nodes names the node each
// partition should live on, so that partitions spread evenly and move as little as possible
// when a node comes or goes.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/interest.hpp"
#include "model/enums.hpp"

namespace valtronics::cluster {

// What one node's connections subscribe to, per channel.
struct InterestSet {
  std::array<bool, model::kChannelCount> all{};
  std::array<std::set<std::int64_t>, model::kChannelCount> devices;

  static InterestSet from(const std::map<hub::Interest::Key, std::size_t>& counts);
  bool wants(model::Channel channel, std::int64_t device) const;
  void merge(const InterestSet& other);
  bool operator==(const InterestSet&) const = default;
};

struct Heartbeat {
  std::string node;
  std::vector<unsigned> partitions;  // owned
  InterestSet interest;
  std::uint64_t connections = 0;
  std::unordered_map<std::string, std::size_t> users;  // connections per user
  bool leaving = false;
};
std::string encode_heartbeat(const Heartbeat& h);
Heartbeat decode_heartbeat(std::string_view text);  // throws wire::WireError

// The node that should own `partition` among `nodes` (rendezvous hashing); "" when none.
std::string preferred_owner(unsigned partition, const std::vector<std::string>& nodes);

class Peers {
 public:
  using Clock = std::chrono::steady_clock;
  // A peer silent for `expiry` is gone.
  explicit Peers(std::chrono::milliseconds expiry) : expiry_(expiry) {}

  // True when the set of live peers or their interest changed.
  bool on_heartbeat(const Heartbeat& h, Clock::time_point now);
  // Drops silent peers; true when some were dropped.
  bool expire(Clock::time_point now);

  struct Peer {
    Heartbeat last;
    Clock::time_point first_seen, last_seen;
  };
  const std::map<std::string, Peer>& all() const { return peers_; }
  std::vector<std::string> live_ids() const;
  // What the live peers want, together.
  InterestSet wanted() const;
  std::uint64_t connections() const;  // the peers' connections, summed
  std::unordered_map<std::string, std::size_t> users() const;  // per user, summed

 private:
  std::chrono::milliseconds expiry_;
  std::map<std::string, Peer> peers_;
};

}  // namespace valtronics::cluster
