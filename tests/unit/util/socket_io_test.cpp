// util/socket_io (the server's and the bench's non-blocking reads and writes) and the kernel
// behaviour the server relies on instead of a per-connection setsockopt.
#include "util/socket_io.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <string>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using valtronics::util::receive_now;
using valtronics::util::send_now;

struct Pair {  // a connected loopback pair: `client` and the accepted `server`
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  tcp::socket client{ioc}, server{ioc};
  explicit Pair(bool listener_nodelay = false) {
    acceptor.open(tcp::v4());
    if (listener_nodelay) acceptor.set_option(tcp::no_delay(true));
    acceptor.bind({asio::ip::address_v4::loopback(), 0});
    acceptor.listen();
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

TEST(SocketIo, ReceiveSaysWouldBlockWhenEmptyThenReadsWhatArrives) {
  Pair p;  // the sockets are in blocking mode: MSG_DONTWAIT alone must keep recv from waiting
  char buf[64];
  boost::system::error_code ec;
  EXPECT_EQ(receive_now(p.server.native_handle(), buf, sizeof buf, ec), 0u);
  EXPECT_TRUE(ec == asio::error::would_block || ec == asio::error::try_again) << ec.message();

  const std::string hello = "hello";
  iovec iov[2] = {{const_cast<char*>(hello.data()), 3}, {const_cast<char*>(hello.data()) + 3, 2}};
  ec.clear();
  EXPECT_EQ(send_now(p.client.native_handle(), iov, 2, ec), 5u);
  EXPECT_FALSE(ec);
  std::string got;
  while (got.size() < 5) {
    ec.clear();
    std::size_t n = receive_now(p.server.native_handle(), buf, sizeof buf, ec);
    if (!ec) got.append(buf, n);
  }
  EXPECT_EQ(got, "hello");
}

TEST(SocketIo, ReceiveReportsEndOfStream) {
  Pair p;
  p.client.close();
  char buf[8];
  boost::system::error_code ec;
  for (int i = 0; i < 1000 && ec != asio::error::eof; ++i) {
    ec.clear();
    receive_now(p.server.native_handle(), buf, sizeof buf, ec);
  }
  EXPECT_EQ(ec, asio::error::eof);
}

TEST(SocketIo, SendStopsWhenTheSocketIsFullAndFailsWithoutSigpipeOnAClosedPeer) {
  Pair p;
  int small = 4096;
  ::setsockopt(p.server.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  std::string chunk(64 * 1024, 'x');
  iovec iov{chunk.data(), chunk.size()};
  boost::system::error_code ec;
  std::size_t total = 0;
  for (int i = 0; i < 1000 && !ec; ++i) total += send_now(p.server.native_handle(), &iov, 1, ec);
  EXPECT_TRUE(ec == asio::error::would_block || ec == asio::error::try_again) << ec.message();
  EXPECT_GT(total, 0u);

  p.client.close();  // unread data: the peer answers with a reset
  ec.clear();
  for (int i = 0; i < 1000 && (!ec || ec == asio::error::would_block); ++i) {
    ec.clear();
    send_now(p.server.native_handle(), &iov, 1, ec);
  }
  // Reaching this line at all means no SIGPIPE killed the test.
  EXPECT_TRUE(ec == asio::error::connection_reset || ec == asio::error::broken_pipe)
      << ec.message();
}

TEST(SocketIo, AcceptedSocketsInheritTcpNodelayFromTheListener) {
  // The server sets TCP_NODELAY once on its listener (net/server.cpp) rather than per connection.
  Pair with(true);
  tcp::no_delay opt;
  with.server.get_option(opt);
  EXPECT_TRUE(opt.value());
  Pair without(false);
  without.server.get_option(opt);
  EXPECT_FALSE(opt.value());
}

}  // namespace
