// The client's address of a request: the peer unless it is a trusted proxy; then the right-most
// untrusted hop of X-Forwarded-For (preferred) or Forwarded, with IPv6 in brackets and quotes,
// ports, several header lines, and garbage falling back to the peer.
#include "net/client_address.hpp"

#include <gtest/gtest.h>

namespace valtronics::net {
namespace {

const TrustedProxies kProxies({"10.0.0.0/8", "fd00::/8", "127.0.0.1"});

std::string xff(std::string_view peer, std::vector<std::string_view> lines,
                const TrustedProxies& t = kProxies) {
  ForwardingHeaders h;
  h.x_forwarded_for = std::move(lines);
  return client_address(peer, h, t);
}
std::string fwd(std::string_view peer, std::vector<std::string_view> lines,
                const TrustedProxies& t = kProxies) {
  ForwardingHeaders h;
  h.forwarded = std::move(lines);
  return client_address(peer, h, t);
}

TEST(ClientAddressTest, UntrustedPeerIsTheClientWhateverItSays) {
  EXPECT_EQ(xff("203.0.113.5", {"198.51.100.1"}), "203.0.113.5");
  EXPECT_EQ(fwd("203.0.113.5", {"for=198.51.100.1"}), "203.0.113.5");
  EXPECT_EQ(xff("::ffff:203.0.113.5", {}), "203.0.113.5");  // canonical form
  // No trusted proxies configured: headers are ignored even from the loopback.
  EXPECT_EQ(xff("127.0.0.1", {"198.51.100.1"}, TrustedProxies{}), "127.0.0.1");
  EXPECT_EQ(xff("unknown", {"198.51.100.1"}), "unknown");
}

TEST(ClientAddressTest, TrustedPeerWithoutHeaderIsItself) {
  EXPECT_EQ(xff("10.1.1.1", {}), "10.1.1.1");
  EXPECT_EQ(xff("10.1.1.1", {""}), "10.1.1.1");
}

TEST(ClientAddressTest, RightMostUntrustedOfXForwardedFor) {
  EXPECT_EQ(xff("10.1.1.1", {"198.51.100.1"}), "198.51.100.1");
  // The client claimed 1.2.3.4; nginx appended the real address; a second trusted proxy too.
  EXPECT_EQ(xff("10.1.1.1", {"1.2.3.4, 198.51.100.1, 10.2.2.2"}), "198.51.100.1");
  // Several header lines are one list, in order.
  EXPECT_EQ(xff("10.1.1.1", {"1.2.3.4", "198.51.100.1,10.2.2.2"}), "198.51.100.1");
  // Ports and IPv6 forms.
  EXPECT_EQ(xff("10.1.1.1", {"198.51.100.1:5555"}), "198.51.100.1");
  EXPECT_EQ(xff("10.1.1.1", {"2001:DB8::1"}), "2001:db8::1");
  EXPECT_EQ(xff("10.1.1.1", {"[2001:db8::1]:443"}), "2001:db8::1");
  EXPECT_EQ(xff("10.1.1.1", {"[2001:db8::1]"}), "2001:db8::1");
  EXPECT_EQ(xff("fd00::5", {"198.51.100.1"}), "198.51.100.1");
  // Every hop trusted: the request started at the left-most.
  EXPECT_EQ(xff("10.1.1.1", {"10.3.3.3, 10.2.2.2"}), "10.3.3.3");
}

TEST(ClientAddressTest, GarbageBeforeTheClientMeansThePeer) {
  EXPECT_EQ(xff("10.1.1.1", {"unknown"}), "10.1.1.1");
  EXPECT_EQ(xff("10.1.1.1", {"198.51.100.1, garbage"}), "10.1.1.1");
  EXPECT_EQ(xff("10.1.1.1", {"client.example"}), "10.1.1.1");
  EXPECT_EQ(xff("10.1.1.1", {"[2001:db8::1"}), "10.1.1.1");
  EXPECT_EQ(xff("10.1.1.1", {"[2001:db8::1]x"}), "10.1.1.1");
  // Garbage left of the client's entry was written by the client itself: it does not matter.
  EXPECT_EQ(xff("10.1.1.1", {"<script>, 198.51.100.1"}), "198.51.100.1");
}

TEST(ClientAddressTest, ForwardedForParameter) {
  EXPECT_EQ(fwd("10.1.1.1", {"for=198.51.100.1"}), "198.51.100.1");
  EXPECT_EQ(fwd("10.1.1.1", {"For=198.51.100.1;proto=https;by=10.1.1.1"}), "198.51.100.1");
  EXPECT_EQ(fwd("10.1.1.1", {"proto=https; for=\"198.51.100.1:4711\""}), "198.51.100.1");
  EXPECT_EQ(fwd("10.1.1.1", {"for=\"[2001:db8:cafe::17]:4711\""}), "2001:db8:cafe::17");
  EXPECT_EQ(fwd("10.1.1.1", {"for=\"[2001:db8:cafe::17]\""}), "2001:db8:cafe::17");
  EXPECT_EQ(fwd("10.1.1.1", {"for=1.2.3.4, for=198.51.100.1;proto=http, for=10.2.2.2"}),
            "198.51.100.1");
  EXPECT_EQ(fwd("10.1.1.1", {"for=1.2.3.4", "for=198.51.100.1"}), "198.51.100.1");
  // A comma inside a quoted value does not split elements (and is no address).
  EXPECT_EQ(fwd("10.1.1.1", {"for=\"1.2.3.4,5.6.7.8\""}), "10.1.1.1");
  // Obfuscated or unknown nodes, elements without for=, two for= in one element: the peer.
  EXPECT_EQ(fwd("10.1.1.1", {"for=unknown"}), "10.1.1.1");
  EXPECT_EQ(fwd("10.1.1.1", {"for=_hidden"}), "10.1.1.1");
  EXPECT_EQ(fwd("10.1.1.1", {"proto=https"}), "10.1.1.1");
  EXPECT_EQ(fwd("10.1.1.1", {"for=198.51.100.1;for=1.2.3.4"}), "10.1.1.1");
  EXPECT_EQ(fwd("10.1.1.1", {"for=\"198.51.100.\\1\""}), "10.1.1.1");
  EXPECT_EQ(fwd("10.1.1.1", {"for=\"unterminated"}), "10.1.1.1");
}

TEST(ClientAddressTest, XForwardedForWinsOverForwarded) {
  ForwardingHeaders h;
  h.forwarded = {"for=1.2.3.4"};
  h.x_forwarded_for = {"198.51.100.1"};
  EXPECT_EQ(client_address("10.1.1.1", h, kProxies), "198.51.100.1");
}

TEST(ClientAddressTest, ForwardedNodeShapes) {
  EXPECT_EQ(parse_forwarded_node(" 192.0.2.1 ")->to_string(), "192.0.2.1");
  EXPECT_EQ(parse_forwarded_node("192.0.2.1:80")->to_string(), "192.0.2.1");
  EXPECT_EQ(parse_forwarded_node("::1")->to_string(), "::1");
  EXPECT_FALSE(parse_forwarded_node("192.0.2.1:80:90"));
  EXPECT_FALSE(parse_forwarded_node(""));
  EXPECT_FALSE(parse_forwarded_node("[]"));
}

TEST(TrustedProxiesTest, BadEntryThrows) {
  EXPECT_THROW(TrustedProxies({"10.0.0.0/33"}), std::invalid_argument);
  EXPECT_THROW(TrustedProxies({"proxy.local"}), std::invalid_argument);
  EXPECT_TRUE(TrustedProxies(std::vector<std::string>{}).empty());
}

}  // namespace
}  // namespace valtronics::net
