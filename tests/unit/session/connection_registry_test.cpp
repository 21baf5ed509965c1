// Admission bookkeeping (session/connection_registry.hpp): the per-user limit, and in a cluster
// the other nodes' connections counted with this node's.
#include <gtest/gtest.h>

#include "session/connection_registry.hpp"

namespace valtronics::session {
namespace {

TEST(ConnectionRegistryUsers, TheLimitIsPerUser) {
  ConnectionRegistry r(100, 2, 100);
  EXPECT_TRUE(r.try_add_user("alice"));
  EXPECT_TRUE(r.try_add_user("alice"));
  EXPECT_FALSE(r.try_add_user("alice"));
  EXPECT_TRUE(r.try_add_user("bob"));
  r.remove_user("alice");
  EXPECT_TRUE(r.try_add_user("alice"));
  EXPECT_EQ(r.local_users().at("alice"), 2u);
  EXPECT_EQ(r.local_users().at("bob"), 1u);
}

TEST(ConnectionRegistryUsers, OtherNodesConnectionsCountAgainstTheLimit) {
  ConnectionRegistry r(100, 3, 100);
  r.set_remote_users({{"alice", 2}});
  EXPECT_TRUE(r.try_add_user("alice"));   // 1 here + 2 elsewhere
  EXPECT_FALSE(r.try_add_user("alice"));  // a fourth
  EXPECT_TRUE(r.try_add_user("bob"));
  EXPECT_EQ(r.local_users().count("alice"), 1u);
  EXPECT_EQ(r.local_users().at("alice"), 1u);  // only this node's own in its heartbeat
  r.set_remote_users({});  // the other node's connections closed
  EXPECT_TRUE(r.try_add_user("alice"));
}

}  // namespace
}  // namespace valtronics::session
