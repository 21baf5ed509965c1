// The shared cap on plain HTTP connections.
#include "net/connection_cap.hpp"

#include <gtest/gtest.h>

namespace {

TEST(ConnectionCapTest, RefusesBeyondMaxAndGivesSlotsBack) {
  valtronics::net::ConnectionCap cap(2);
  EXPECT_TRUE(cap.try_acquire());
  EXPECT_TRUE(cap.try_acquire());
  EXPECT_FALSE(cap.try_acquire());
  EXPECT_EQ(cap.open(), 2u);
  cap.release();
  EXPECT_TRUE(cap.try_acquire());
  EXPECT_FALSE(cap.try_acquire());
}

}  // namespace
