// The io_uring behind util::BatchSender (see batch_send.hpp); without liburing, open() refuses.
#include "util/batch_send.hpp"

#include <cerrno>
#include <cstring>
#include <system_error>

#ifdef VALTRONICS_HAVE_LIBURING
#include <liburing.h>
#endif

namespace valtronics::util {

#ifdef VALTRONICS_HAVE_LIBURING

struct BatchSender::Ring {
  io_uring ring{};
  bool live = false;  // queue_init succeeded (when it fails it cleans up after itself)
  ~Ring() {
    if (live) ::io_uring_queue_exit(&ring);
  }
};

std::unique_ptr<BatchSender> BatchSender::open(std::size_t batch, std::string& why) {
  if (batch == 0) {
    why = "a batch of zero sends";
    return nullptr;
  }
  auto ring = std::make_unique<Ring>();
  const int rc = ::io_uring_queue_init(static_cast<unsigned>(batch), &ring->ring, 0);
  if (rc < 0) {
    why = std::string("io_uring_queue_init: ") + std::strerror(-rc);
    return nullptr;
  }
  ring->live = true;
  // The ring may round the size up; completions never outnumber the submissions of one call.
  return std::unique_ptr<BatchSender>(new BatchSender(std::move(ring), batch));
}

void BatchSender::send(Send* sends, std::size_t count) {
  if (count == 0) return;
  io_uring& ring = ring_->ring;
  for (std::size_t i = 0; i < count; ++i) {
    io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
    // The ring holds batch() entries and every call reaps all it submitted: there is room.
    ::io_uring_prep_sendmsg(sqe, sends[i].fd, &sends[i].msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    ::io_uring_sqe_set_data64(sqe, i);
  }
  std::size_t done = 0;
  int rc = ::io_uring_submit_and_wait(&ring, static_cast<unsigned>(count));
  while (done < count) {
    if (rc < 0 && rc != -EINTR)
      throw std::system_error(-rc, std::generic_category(), "io_uring_submit_and_wait");
    unsigned head = 0, seen = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      Send& s = sends[::io_uring_cqe_get_data64(cqe)];
      if (cqe->res >= 0) {
        s.bytes = static_cast<std::size_t>(cqe->res);
        s.ec = {};
      } else {
        s.bytes = 0;
        s.ec = boost::system::error_code(-cqe->res, boost::system::system_category());
      }
    }
    ::io_uring_cq_advance(&ring, seen);
    done += seen;
    // Interrupted, or completions still to come: wait for the rest (submits nothing new).
    if (done < count) rc = ::io_uring_submit_and_wait(&ring, static_cast<unsigned>(count - done));
  }
}

#else  // no liburing in this build

struct BatchSender::Ring {};

std::unique_ptr<BatchSender> BatchSender::open(std::size_t, std::string& why) {
  why = "this build has no liburing (install liburing-dev and rebuild)";
  return nullptr;
}

void BatchSender::send(Send*, std::size_t) {}

#endif

BatchSender::BatchSender(std::unique_ptr<Ring> ring, std::size_t batch)
    : ring_(std::move(ring)), batch_(batch) {}

BatchSender::~BatchSender() = default;

}  // namespace valtronics::util
