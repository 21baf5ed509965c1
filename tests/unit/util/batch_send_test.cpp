// util::BatchSender: many sockets' sends in one io_uring submission, each reported as send_now
// would report it (bytes, would_block on a full socket, the socket's own error), so that the
// server's flush can treat a batched write and a sendmsg alike.
#include "util/batch_send.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using valtronics::util::BatchSender;

struct Pair {  // a connected loopback pair: `client` and the accepted `server`
  tcp::socket client, server;
  Pair(asio::io_context& ioc, tcp::acceptor& acceptor) : client(ioc), server(ioc) {
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
};

struct Pairs {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::vector<std::unique_ptr<Pair>> pairs;
  explicit Pairs(int n) {
    acceptor.open(tcp::v4());
    acceptor.bind({asio::ip::address_v4::loopback(), 0});
    acceptor.listen();
    for (int i = 0; i < n; ++i) pairs.push_back(std::make_unique<Pair>(ioc, acceptor));
  }
};

// Points `send` at `iov[0..n)` on socket `fd`.
void aim(BatchSender::Send& send, int fd, iovec* iov, std::size_t n) {
  send.fd = fd;
  send.msg = {};
  send.msg.msg_iov = iov;
  send.msg.msg_iovlen = n;
}

std::string read_exactly(tcp::socket& s, std::size_t n) {
  std::string got(n, '\0');
  asio::read(s, asio::buffer(got.data(), n));
  return got;
}

TEST(BatchSender, RefusesAnEmptyBatchAndSaysWhy) {
  std::string why;
  EXPECT_EQ(BatchSender::open(0, why), nullptr);
  EXPECT_FALSE(why.empty());
}

TEST(BatchSender, SendsToEverySocketOfTheBatchInOneCall) {
  std::string why;
  auto sender = BatchSender::open(8, why);
  if (!sender) GTEST_SKIP() << "no io_uring here: " << why;
  EXPECT_EQ(sender->batch(), 8u);

  Pairs p(8);
  std::vector<std::string> heads, tails;
  std::vector<iovec> iov(16);
  std::vector<BatchSender::Send> sends(8);
  for (int i = 0; i < 8; ++i) {  // two iovecs each, as the flush gathers a header and a frame
    heads.push_back("socket " + std::to_string(i) + ": ");
    tails.push_back(std::string(100 + i, static_cast<char>('a' + i)));
  }
  for (int i = 0; i < 8; ++i) {
    iov[2 * i] = {heads[i].data(), heads[i].size()};
    iov[2 * i + 1] = {tails[i].data(), tails[i].size()};
    aim(sends[i], p.pairs[i]->client.native_handle(), &iov[2 * i], 2);
  }
  sender->send(sends.data(), sends.size());
  for (int i = 0; i < 8; ++i) {
    EXPECT_FALSE(sends[i].ec) << i << ": " << sends[i].ec.message();
    ASSERT_EQ(sends[i].bytes, heads[i].size() + tails[i].size()) << i;
    EXPECT_EQ(read_exactly(p.pairs[i]->server, sends[i].bytes), heads[i] + tails[i]) << i;
  }

  // The ring is reused: a second round on the same sender works as the first.
  std::string again = "again";
  iovec one{again.data(), again.size()};
  aim(sends[0], p.pairs[3]->client.native_handle(), &one, 1);
  sender->send(sends.data(), 1);
  EXPECT_EQ(sends[0].bytes, again.size());
  EXPECT_EQ(read_exactly(p.pairs[3]->server, again.size()), again);
}

TEST(BatchSender, AFullSocketSaysWouldBlockWithoutHoldingUpTheOthers) {
  std::string why;
  auto sender = BatchSender::open(2, why);
  if (!sender) GTEST_SKIP() << "no io_uring here: " << why;
  Pairs p(2);
  p.pairs[0]->client.set_option(asio::socket_base::send_buffer_size(4096));
  p.pairs[0]->server.set_option(asio::socket_base::receive_buffer_size(4096));

  std::string block(64 * 1024, 'x');
  iovec big{block.data(), block.size()};
  std::string small = "still delivered";
  iovec little{small.data(), small.size()};
  BatchSender::Send sends[2];
  // Nobody reads pair 0: its buffers fill and a send must come back at once with would_block
  // (MSG_DONTWAIT), never wait for room, nor leave the kernel retrying it in the background.
  bool saw_would_block = false;
  for (int round = 0; round < 200 && !saw_would_block; ++round) {
    aim(sends[0], p.pairs[0]->client.native_handle(), &big, 1);
    aim(sends[1], p.pairs[1]->client.native_handle(), &little, 1);
    sender->send(sends, 2);
    if (sends[0].ec) {
      EXPECT_TRUE(sends[0].ec == asio::error::would_block ||
                  sends[0].ec == asio::error::try_again)
          << sends[0].ec.message();
      EXPECT_EQ(sends[0].bytes, 0u);
      saw_would_block = true;
    } else {
      EXPECT_GT(sends[0].bytes, 0u);
    }
    ASSERT_FALSE(sends[1].ec) << sends[1].ec.message();
    ASSERT_EQ(sends[1].bytes, small.size());
    EXPECT_EQ(read_exactly(p.pairs[1]->server, small.size()), small);
  }
  EXPECT_TRUE(saw_would_block);
}

TEST(BatchSender, ASocketsOwnErrorIsReportedOnItsSendOnly) {
  std::string why;
  auto sender = BatchSender::open(3, why);
  if (!sender) GTEST_SKIP() << "no io_uring here: " << why;
  Pairs p(2);
  p.pairs[1]->server.close();  // pair 1's peer is gone: its sends fail with a reset or EPIPE
  std::string text = "x";
  iovec one{text.data(), text.size()};
  BatchSender::Send sends[3];
  bool peer_error = false;
  for (int round = 0; round < 100 && !peer_error; ++round) {
    aim(sends[0], p.pairs[0]->client.native_handle(), &one, 1);
    aim(sends[1], p.pairs[1]->client.native_handle(), &one, 1);
    aim(sends[2], -1, &one, 1);  // not a descriptor at all
    sender->send(sends, 3);
    ASSERT_FALSE(sends[0].ec) << sends[0].ec.message();
    EXPECT_EQ(sends[0].bytes, 1u);
    EXPECT_EQ(sends[2].ec, asio::error::bad_descriptor) << sends[2].ec.message();
    EXPECT_EQ(sends[2].bytes, 0u);
    if (sends[1].ec) {
      // The first send after the peer closed may succeed (the RST comes back after it); a
      // later one fails, and never with SIGPIPE (MSG_NOSIGNAL): this process is still here.
      EXPECT_TRUE(sends[1].ec == asio::error::connection_reset ||
                  sends[1].ec == asio::error::broken_pipe)
          << sends[1].ec.message();
      EXPECT_EQ(sends[1].bytes, 0u);
      peer_error = true;
    }
  }
  EXPECT_TRUE(peer_error);
}

}  // namespace
