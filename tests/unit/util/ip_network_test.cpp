// Addresses and CIDR networks: parsing, canonical text, IPv4-mapped IPv6, containment at
// whole-byte and partial-byte prefixes, and what is refused.
#include "util/ip_network.hpp"

#include <gtest/gtest.h>

namespace valtronics::util {
namespace {

IpAddress ip(const char* text) {
  auto a = IpAddress::parse(text);
  EXPECT_TRUE(a) << text;
  return a ? *a : IpAddress{};
}

TEST(IpAddressTest, ParsesAndPrintsCanonically) {
  EXPECT_EQ(ip("192.0.2.1").to_string(), "192.0.2.1");
  EXPECT_FALSE(ip("192.0.2.1").v6);
  EXPECT_EQ(ip("2001:DB8:0:0::1").to_string(), "2001:db8::1");
  EXPECT_TRUE(ip("::1").v6);
  // A dual-stack socket's view of an IPv4 peer is that IPv4 address.
  EXPECT_EQ(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
  EXPECT_EQ(ip("::ffff:192.0.2.1").to_string(), "192.0.2.1");
}

TEST(IpAddressTest, RefusesWhatIsNotAnAddress) {
  for (const char* bad : {"", "unknown", "example.com", "1.2.3", "1.2.3.256", "1.2.3.4:80",
                          "[::1]", "::1%eth0", "1.2.3.4 ", " 1.2.3.4", "::g",
                          "0000000000000000000000000000000000000000000000000000000000000001.2.3.4"})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
}

TEST(IpNetworkTest, ContainsByPrefix) {
  auto n = IpNetwork::parse("10.0.0.0/8");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->contains(ip("10.255.1.2")));
  EXPECT_FALSE(n->contains(ip("11.0.0.0")));
  EXPECT_EQ(n->to_string(), "10.0.0.0/8");

  auto partial = IpNetwork::parse("192.168.4.0/22");  // 192.168.4.0 - 192.168.7.255
  ASSERT_TRUE(partial);
  EXPECT_TRUE(partial->contains(ip("192.168.7.255")));
  EXPECT_FALSE(partial->contains(ip("192.168.8.0")));
  EXPECT_FALSE(partial->contains(ip("192.168.3.255")));

  auto v6 = IpNetwork::parse("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(ip("fdab::1")));
  EXPECT_FALSE(v6->contains(ip("fe80::1")));
  EXPECT_FALSE(v6->contains(ip("10.0.0.1")));  // families never mix
  EXPECT_FALSE(n->contains(ip("::a00:1")));

  auto all = IpNetwork::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(ip("203.0.113.9")));
}

TEST(IpNetworkTest, BareAddressIsANetworkOfOne) {
  auto one = IpNetwork::parse("192.0.2.7");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->contains(ip("192.0.2.7")));
  EXPECT_TRUE(one->contains(ip("::ffff:192.0.2.7")));
  EXPECT_FALSE(one->contains(ip("192.0.2.8")));
  EXPECT_EQ(one->to_string(), "192.0.2.7/32");
  auto lo = IpNetwork::parse("::1");
  ASSERT_TRUE(lo);
  EXPECT_TRUE(lo->contains(ip("::1")));
  EXPECT_FALSE(lo->contains(ip("::2")));
  auto mapped = IpNetwork::parse("::ffff:10.0.0.0/104");  // = 10.0.0.0/8
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->contains(ip("10.1.2.3")));
}

TEST(IpNetworkTest, RefusesBadNetworks) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
                          "10.0.0.0/0008", "fd00::/129", "fd00::1/8", "/8", "host/8", "10.0.0.0/8/8",
                          "::ffff:10.0.0.0/95"})
    EXPECT_FALSE(IpNetwork::parse(bad)) << bad;
}

}  // namespace
}  // namespace valtronics::util
