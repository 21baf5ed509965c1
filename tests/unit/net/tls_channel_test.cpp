// TlsChannel over a socketpair against an OpenSSL client: the handshake in non-blocking steps,
// gathered writes, reads, the retry contract after would_block (the same bytes again, the
// stream arrives intact), end of stream, and plain HTTP recognised as such.

#include "net/tls_channel.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <string>

#include "net/test_pki.hpp"
#include "net/tls_context.hpp"

namespace valtronics::net {
namespace {

using boost::system::error_code;
namespace asio_error = boost::asio::error;

struct Pair {
  int server = -1, client = -1;
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
    server = fds[0];
    client = fds[1];
    ::fcntl(server, F_SETFL, O_NONBLOCK);
    ::fcntl(client, F_SETFL, O_NONBLOCK);
  }
  ~Pair() {
    if (server >= 0) ::close(server);
    if (client >= 0) ::close(client);
  }
};

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::TlsConfig t;
    t.cert = pki_.path("server.pem");
    t.key = pki_.path("server.key");
    server_ctx_ = make_server_tls_context(t);
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_NONE, nullptr);
    client_ = SSL_new(client_ctx_);
    SSL_set_fd(client_, pair_.client);
    SSL_set_connect_state(client_);
    channel_ = std::make_unique<TlsChannel>(server_ctx_.get(), pair_.server);
  }
  void TearDown() override {
    channel_.reset();
    SSL_free(client_);
    SSL_CTX_free(client_ctx_);
  }

  // Alternates both sides until each has finished its handshake.
  void handshake() {
    bool server_done = false, client_done = false;
    for (int i = 0; i < 100 && !(server_done && client_done); ++i) {
      if (!client_done) client_done = SSL_do_handshake(client_) == 1;
      if (!server_done) {
        error_code ec;
        auto step = channel_->handshake(ec);
        ASSERT_NE(step, TlsChannel::Step::failed) << ec.message();
        server_done = step == TlsChannel::Step::done;
      }
    }
    ASSERT_TRUE(server_done && client_done);
  }

  std::string client_read_all() {
    std::string out;
    char buf[16384];
    for (;;) {
      int n = SSL_read(client_, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  testing::TestPki pki_;
  Pair pair_;
  SslCtxPtr server_ctx_;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ = nullptr;
  std::unique_ptr<TlsChannel> channel_;
};

TEST_F(TlsChannelTest, HandshakeReadAndGatheredWrite) {
  handshake();
  EXPECT_EQ(channel_->protocol(), "TLSv1.3");

  char buf[64];
  error_code ec;
  EXPECT_EQ(channel_->read(buf, sizeof buf, ec), 0u);
  EXPECT_EQ(ec, asio_error::would_block);

  ASSERT_EQ(SSL_write(client_, "hello", 5), 5);
  EXPECT_EQ(channel_->read(buf, sizeof buf, ec), 5u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(std::string(buf, 5), "hello");

  std::string a = "first frame|", b = "second frame";
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  EXPECT_EQ(channel_->write(iov, 2, ec), a.size() + b.size());
  EXPECT_FALSE(ec);
  EXPECT_EQ(client_read_all(), a + b);
}

TEST_F(TlsChannelTest, WouldBlockThenTheSameBytesAgainKeepsTheStreamIntact) {
  handshake();
  // A stream far larger than the socket buffers, written as a frame queue would: on
  // would_block the writer waits, the reader drains, and the next call starts where the
  // last accepted byte ended (with more queued behind it).
  std::string stream(4 << 20, '\0');
  for (std::size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<char>('a' + i % 26);
  std::size_t sent = 0;
  std::string received;
  int blocked = 0;
  while (sent < stream.size()) {
    const std::size_t chunk = std::min<std::size_t>(stream.size() - sent, 100'000);
    iovec iov{stream.data() + sent, chunk};
    error_code ec;
    const std::size_t n = channel_->write(&iov, 1, ec);
    if (ec == asio_error::would_block) {
      ++blocked;
      received += client_read_all();
      continue;
    }
    ASSERT_FALSE(ec) << ec.message();
    sent += n;
  }
  received += client_read_all();
  EXPECT_GT(blocked, 0);
  EXPECT_EQ(received.size(), stream.size());
  EXPECT_TRUE(received == stream);
}

TEST_F(TlsChannelTest, CloseNotifyIsEndOfStream) {
  handshake();
  SSL_shutdown(client_);
  char buf[16];
  error_code ec;
  EXPECT_EQ(channel_->read(buf, sizeof buf, ec), 0u);
  EXPECT_EQ(ec, asio_error::eof);
}

TEST_F(TlsChannelTest, PlainHttpIsRecognised) {
  const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::write(pair_.client, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  error_code ec;
  EXPECT_EQ(channel_->handshake(ec), TlsChannel::Step::failed);
  EXPECT_TRUE(channel_->peer_spoke_http());
}

}  // namespace
}  // namespace valtronics::net
