#include "util/socket_io.hpp"

#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <cerrno>

namespace valtronics::util {

namespace {
boost::system::error_code last_error() {
  return {errno, boost::asio::error::get_system_category()};
}
}  // namespace

std::size_t receive_now(int fd, char* data, std::size_t size, boost::system::error_code& ec) {
  for (;;) {
    const ssize_t n = ::recv(fd, data, size, MSG_DONTWAIT);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) {
      ec = boost::asio::error::eof;
      return 0;
    }
    if (errno == EINTR) continue;
    ec = last_error();
    return 0;
  }
}

std::size_t send_now(int fd, const iovec* iov, std::size_t count, boost::system::error_code& ec) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = count;
  for (;;) {
    const ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    ec = last_error();
    return 0;
  }
}

}  // namespace valtronics::util
