// The HTTP request guard: framing that could be read two ways (RFC 9112 section 6.3), the
// WebSocket key (RFC 6455 section 4.2.1) and Expect.
#include "net/request_guard.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <utility>

namespace {

using namespace valtronics::net;
namespace http = boost::beast::http;

http::fields head(std::initializer_list<std::pair<http::field, const char*>> fields) {
  http::fields f;
  for (const auto& [name, value] : fields) f.insert(name, value);
  return f;
}

TEST(RequestGuardTest, PlainFramingPasses) {
  EXPECT_FALSE(framing_problem(head({})));
  EXPECT_FALSE(framing_problem(head({{http::field::content_length, "12"}})));
  EXPECT_FALSE(framing_problem(head({{http::field::content_length, "0"}})));
  EXPECT_FALSE(framing_problem(head({{http::field::transfer_encoding, "chunked"}})));
  EXPECT_FALSE(framing_problem(head({{http::field::transfer_encoding, "Chunked"}})));
}

TEST(RequestGuardTest, TransferCodingsOtherThanChunkedAreRefused) {
  for (const char* te : {"xchunked", "identity", "gzip", "chunked, gzip", "chunked, identity",
                         "gzip, chunked", "chunked,chunked", ""}) {
    auto p = framing_problem(head({{http::field::transfer_encoding, te}}));
    ASSERT_TRUE(p) << te;
    EXPECT_NE(p->find("Transfer-Encoding"), std::string::npos) << *p;
  }
  EXPECT_TRUE(framing_problem(head({{http::field::transfer_encoding, "chunked"},
                                    {http::field::transfer_encoding, "chunked"}})));
}

TEST(RequestGuardTest, AmbiguousLengthsAreRefused) {
  EXPECT_TRUE(framing_problem(head({{http::field::transfer_encoding, "chunked"},
                                    {http::field::content_length, "5"}})));
  EXPECT_TRUE(framing_problem(head({{http::field::transfer_encoding, "gzip"},
                                    {http::field::content_length, "5"}})));
  EXPECT_TRUE(framing_problem(head({{http::field::content_length, "5"},
                                    {http::field::content_length, "5"}})));
  for (const char* cl : {"-5", "5, 5", "abc", "", "+5", "0x10", "99999999999999999999"})
    EXPECT_TRUE(framing_problem(head({{http::field::content_length, cl}}))) << cl;
}

TEST(RequestGuardTest, WebSocketKeyIsBase64Of16Bytes) {
  EXPECT_TRUE(valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));  // RFC 6455's example
  EXPECT_TRUE(valid_websocket_key("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_TRUE(valid_websocket_key("+/+/+/+/+/+/+/+/+/+/+w=="));
  EXPECT_FALSE(valid_websocket_key(""));
  EXPECT_FALSE(valid_websocket_key("x"));
  EXPECT_FALSE(valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ"));      // no padding
  EXPECT_FALSE(valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=!"));
  EXPECT_FALSE(valid_websocket_key("AAAAAAAAAAAAAAAAAAAAAAAAAA=="));  // 19 bytes
  EXPECT_FALSE(valid_websocket_key("dGhlIHNhbXBsZSBub25j ZQ=="));
  EXPECT_FALSE(valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=A"));
}

TEST(RequestGuardTest, Expectations) {
  EXPECT_EQ(expectation(head({})), Expectation::none);
  EXPECT_EQ(expectation(head({{http::field::expect, "100-continue"}})), Expectation::continue_100);
  EXPECT_EQ(expectation(head({{http::field::expect, "100-Continue"}})), Expectation::continue_100);
  EXPECT_EQ(expectation(head({{http::field::expect, "200-ok"}})), Expectation::unsupported);
}

}  // namespace
