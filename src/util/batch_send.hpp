// Many non-blocking sends, to many sockets, in one system call: an io_uring ring on which a
// batch of SENDMSG requests is submitted and waited for together (io_uring_submit_and_wait).
// Every send is flagged MSG_DONTWAIT, so the kernel does each one at once during the submit: a
// full socket completes with would_block instead of being retried in the background, exactly
// as util::send_now reports it. The batch is synchronous: when send() returns, the kernel is
// done with every msghdr, iovec and byte it was given, so callers may reuse their buffers.
//
// Why: on these machines a system call costs more than the loopback send it carries (a
// paravirtualized interrupt toggle per call; docs/benchmarks.md, issue 11): one io_uring_enter
// for a flush round's writes costs less than one sendmsg per connection (bench floor).
//
// Used by the server's flush (net/flusher.hpp) and by `bench floor --io-uring`. Built on
// liburing when CMake found it (VALTRONICS_HAVE_LIBURING); otherwise, or when the kernel refuses
// a ring (old kernel, seccomp, io_uring_disabled), open() says why and callers write with
// send_now, one system call per socket.
#pragma once

#include <sys/socket.h>

#include <boost/system/error_code.hpp>
#include <cstddef>
#include <memory>
#include <string>

namespace valtronics::util {

class BatchSender {
 public:
  // One socket's send: the caller fills fd and msg; send() fills the result, as send_now would
  // return it: bytes written (maybe fewer than asked), or 0 with `ec` set (would_block or an
  // error).
  struct Send {
    int fd = -1;
    msghdr msg{};
    std::size_t bytes = 0;
    boost::system::error_code ec;
  };

  // A ring that takes up to `batch` sends per system call, or null with `why` saying why none
  // could be had.
  static std::unique_ptr<BatchSender> open(std::size_t batch, std::string& why);
  ~BatchSender();
  BatchSender(const BatchSender&) = delete;
  BatchSender& operator=(const BatchSender&) = delete;

  // The most sends one call to send() takes.
  std::size_t batch() const { return batch_; }
  // Does sends[0..count) (count <= batch()), all submitted together; returns when every one
  // has completed. Throws std::system_error if the ring itself fails (not a socket's error).
  void send(Send* sends, std::size_t count);

 private:
  struct Ring;
  BatchSender(std::unique_ptr<Ring> ring, std::size_t batch);

  std::unique_ptr<Ring> ring_;
  std::size_t batch_;
};

}  // namespace valtronics::util
