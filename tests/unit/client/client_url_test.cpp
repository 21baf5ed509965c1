// URL parsing of the client: schemes, default ports, IPv6, targets, and the errors named.
#include "client/url.hpp"

#include <gtest/gtest.h>

namespace valtronics::client {
namespace {

TEST(ClientUrl, Forms) {
  auto u = parse_url("ws://127.0.0.1:8000/ws");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "ws");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8000");
  EXPECT_EQ(u->target, "/ws");
  EXPECT_FALSE(u->tls());
  EXPECT_EQ(u->host_header(), "127.0.0.1:8000");
  EXPECT_EQ(u->str(), "ws://127.0.0.1:8000/ws");

  u = parse_url("WSS://example.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "wss");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/");
  EXPECT_TRUE(u->tls());
  EXPECT_EQ(u->host_header(), "example.com");

  u = parse_url("http://h?x=1");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->target, "/?x=1");

  u = parse_url("https://[::1]:8443/api");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->host_header(), "[::1]:8443");
}

TEST(ClientUrl, ErrorsSayWhatIsWrong) {
  std::string err;
  EXPECT_FALSE(parse_url("127.0.0.1:8000", &err));
  EXPECT_NE(err.find("no scheme"), std::string::npos) << err;
  EXPECT_FALSE(parse_url("ftp://h", &err));
  EXPECT_NE(err.find("unsupported scheme 'ftp'"), std::string::npos) << err;
  EXPECT_FALSE(parse_url("ws:///ws", &err));
  EXPECT_NE(err.find("missing host"), std::string::npos) << err;
  for (const char* bad : {"ws://h:0", "ws://h:65536", "ws://h:http", "ws://h:", "ws://[::1]x"}) {
    EXPECT_FALSE(parse_url(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  EXPECT_FALSE(parse_url("ws://user:pw@h", &err));
  EXPECT_NE(err.find("user information"), std::string::npos) << err;
}

}  // namespace
}  // namespace valtronics::client
