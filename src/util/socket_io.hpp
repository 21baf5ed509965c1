// One non-blocking receive or send on a socket, by flag (MSG_DONTWAIT) rather than by switching
// the socket with FIONBIO: one system call fewer per connection, and the socket's own mode stays
// whatever asio set for its asynchronous operations. Used by the server's WebSocket sessions and
// by the load generator. EINTR is retried; "nothing to read" / "no room" is would_block.
#pragma once

#include <sys/uio.h>

#include <boost/system/error_code.hpp>
#include <cstddef>

namespace valtronics::util {

// Bytes read (> 0); 0 with `ec` set on end of stream (eof), would_block or another error.
std::size_t receive_now(int fd, char* data, std::size_t size, boost::system::error_code& ec);

// Bytes written (maybe fewer than asked); 0 with `ec` set on would_block or an error. Never
// raises SIGPIPE.
std::size_t send_now(int fd, const iovec* iov, std::size_t count, boost::system::error_code& ec);

}  // namespace valtronics::util
