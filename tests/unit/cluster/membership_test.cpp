// Peers, interest and partition preference (cluster/membership.hpp).
#include <gtest/gtest.h>

#include <map>

#include "cluster/membership.hpp"
#include "cluster/wire.hpp"

namespace valtronics::cluster {
namespace {

using model::Channel;

TEST(ClusterInterest, EveryDeviceCoversTheListAndMergesAcrossNodes) {
  std::map<hub::Interest::Key, std::size_t> counts{{{Channel::telemetry, 5}, 1},
                                                   {{Channel::telemetry, 0}, 2},
                                                   {{Channel::alerts, 7}, 1}};
  auto s = InterestSet::from(counts);
  EXPECT_TRUE(s.wants(Channel::telemetry, 123));
  EXPECT_TRUE(s.wants(Channel::alerts, 7));
  EXPECT_FALSE(s.wants(Channel::alerts, 8));
  EXPECT_FALSE(s.wants(Channel::devices, 7));

  InterestSet other;
  other.devices[static_cast<std::size_t>(Channel::alerts)] = {8};
  s.merge(other);
  EXPECT_TRUE(s.wants(Channel::alerts, 8));
  EXPECT_TRUE(s.wants(Channel::alerts, 7));
}

TEST(ClusterHeartbeat, RoundTripsAndRefusesWhatIsNotOne) {
  Heartbeat h;
  h.node = "n1";
  h.partitions = {0, 3};
  h.interest.all[static_cast<std::size_t>(Channel::devices)] = true;
  h.interest.devices[static_cast<std::size_t>(Channel::telemetry)] = {4, 9};
  h.connections = 12;
  h.users = {{"alice", 2}, {"bob", 1}};
  auto back = decode_heartbeat(encode_heartbeat(h));
  EXPECT_EQ(back.users, h.users);
  EXPECT_EQ(back.node, "n1");
  EXPECT_EQ(back.partitions, (std::vector<unsigned>{0, 3}));
  EXPECT_EQ(back.interest, h.interest);
  EXPECT_EQ(back.connections, 12u);
  EXPECT_FALSE(back.leaving);
  EXPECT_THROW(decode_heartbeat("{}"), wire::WireError);
  EXPECT_THROW(decode_heartbeat("x"), wire::WireError);
}

TEST(ClusterPeers, SilentPeersExpireAndLeavingOnesGoAtOnce) {
  Peers peers(std::chrono::milliseconds(3500));
  const auto t0 = Peers::Clock::now();
  Heartbeat a{"a", {}, {}, 1, {{"alice", 2}}, false}, b{"b", {}, {}, 2, {{"alice", 1}}, false};
  EXPECT_TRUE(peers.on_heartbeat(a, t0));
  EXPECT_TRUE(peers.on_heartbeat(b, t0));
  EXPECT_FALSE(peers.on_heartbeat(a, t0 + std::chrono::seconds(1)));  // nothing new
  EXPECT_EQ(peers.connections(), 3u);
  EXPECT_EQ(peers.users().at("alice"), 3u);  // what the per-user limit counts elsewhere
  EXPECT_TRUE(peers.expire(t0 + std::chrono::seconds(4)));  // b silent since t0
  EXPECT_EQ(peers.live_ids(), std::vector<std::string>{"a"});
  a.leaving = true;
  EXPECT_TRUE(peers.on_heartbeat(a, t0 + std::chrono::seconds(4)));
  EXPECT_TRUE(peers.live_ids().empty());
}

TEST(ClusterPartitions, PreferredOwnersSpreadAndMoveLittleWhenANodeLeaves) {
  const std::vector<std::string> three{"n1", "n2", "n3"}, two{"n1", "n2"};
  std::map<std::string, int> per_node;
  int moved = 0;
  for (unsigned p = 0; p < 1024; ++p) {
    const auto before = preferred_owner(p, three);
    ++per_node[before];
    const auto after = preferred_owner(p, two);
    if (before != "n3") moved += before != after;  // only n3's partitions may move
  }
  EXPECT_EQ(moved, 0);
  for (const auto& [node, n] : per_node) {
    EXPECT_GT(n, 1024 / 3 - 80) << node;
    EXPECT_LT(n, 1024 / 3 + 80) << node;
  }
  // The same answer whatever the order of the list.
  EXPECT_EQ(preferred_owner(5, {"n3", "n1", "n2"}), preferred_owner(5, three));
  EXPECT_EQ(preferred_owner(5, {}), "");
}

}  // namespace
}  // namespace valtronics::cluster
