// The floor scenario: see floor.hpp.
#include "bench/floor.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/error.hpp>

#include "util/batch_send.hpp"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace valtronics::bench {

namespace json = boost::json;

namespace {

constexpr int kWarmupRounds = 3;        // not measured: first-touch of socket buffers, caches
constexpr int kMaxFramesPerWrite = 256;  // 2 iovecs per frame, well under IOV_MAX (1024)
constexpr unsigned kIoUringMaxEntries = 16384;

// Shared between the writer (parent) and the reader (child) process: an anonymous shared
// mapping made before fork().
struct Shared {
  std::atomic<std::uint64_t> drained{0};  // bytes the reader has received
  std::atomic<int> connected{0};          // reader sockets connected
  std::atomic<int> stop{0};
  std::atomic<int> error{0};              // errno of the reader's failure, if any
};

std::runtime_error sys_error(const std::string& what, int err = errno) {
  return std::runtime_error("floor: " + what + ": " + std::strerror(err));
}

std::string row_text(std::string_view label, std::string_view text) {
  return fmt::format("  {:<22}{}\n", label, text);
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ---- reader (child process) --------------------------------------------------------------------

// Connects `n` sockets to 127.0.0.1:port from 127.0.0.2..50 (round-robin, port chosen at
// connect time), so that no source address runs out of ports.
std::vector<int> connect_readers(int n, std::uint16_t port, Shared& shared) {
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(n));
  sockaddr_in dest{};
  dest.sin_family = AF_INET;
  dest.sin_port = htons(port);
  dest.sin_addr.s_addr = htonl(0x7F000001u);
  for (int i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw sys_error("reader socket");
    int one = 1;
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7F000000u | static_cast<std::uint32_t>(2 + i % 49));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) throw sys_error("bind");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&dest), sizeof dest) != 0)
      throw sys_error("connect");
    fds.push_back(fd);
    shared.connected.fetch_add(1, std::memory_order_relaxed);
  }
  return fds;
}

// Drains every socket with epoll (level-triggered) until told to stop or orphaned.
void drain_readers(const std::vector<int>& fds, Shared& shared, pid_t parent) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) throw sys_error("epoll_create1");
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) throw sys_error("epoll_ctl");
  }
  std::vector<epoll_event> events(1024);
  std::vector<char> buf(256 * 1024);
  while (!shared.stop.load(std::memory_order_relaxed) && ::getppid() == parent) {
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) throw sys_error("epoll_wait");
    std::uint64_t got = 0;
    for (int i = 0; i < n; ++i) {
      ssize_t r = ::recv(events[i].data.fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (r > 0) got += static_cast<std::uint64_t>(r);
      else if (r == 0) ::epoll_ctl(ep, EPOLL_CTL_DEL, events[i].data.fd, nullptr);  // writer gone
    }
    if (got) shared.drained.fetch_add(got, std::memory_order_release);
  }
}

[[noreturn]] void reader_process(int n, std::uint16_t port, int cpu, Shared& shared,
                                 pid_t parent) {
  try {
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      if (::sched_setaffinity(0, sizeof set, &set) != 0) throw sys_error("reader CPU affinity");
    }
    auto fds = connect_readers(n, port, shared);
    drain_readers(fds, shared, parent);
  } catch (const std::exception& e) {
    shared.error.store(errno ? errno : EIO);
    std::fprintf(stderr, "valtronics bench: %s\n", e.what());
    ::_exit(1);
  }
  ::_exit(0);
}

// ---- writer (this process) ---------------------------------------------------------------------

int listen_loopback(std::uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sys_error("listener socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(0x7F000001u);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw sys_error("listener");
  port = ntohs(a.sin_port);
  return fd;
}

// Accepts the reader's `n` connections (TCP_NODELAY on each, as the server sets); gives up when
// the reader fails or nothing arrives for 10 s.
std::vector<int> accept_writers(int listener, int n, const Shared& shared) {
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(n));
  while (static_cast<int>(fds.size()) < n) {
    pollfd p{listener, POLLIN, 0};
    int ready = ::poll(&p, 1, 10'000);
    if (shared.error.load()) throw std::runtime_error("floor: the reader process failed");
    if (ready == 0)
      throw std::runtime_error(fmt::format("floor: only {} of {} connections after 10 s",
                                           fds.size(), n));
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw sys_error("poll");
    }
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) throw sys_error("accept");
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fds.push_back(fd);
  }
  return fds;
}

// What one socket gets per round: K frames, each a header and the shared payload.
struct Message {
  std::vector<unsigned char> header;
  std::string payload;
  std::vector<iovec> iov;
  msghdr msg{};
  std::size_t bytes = 0;

  Message(int payload_bytes, int frames) {
    header = server_text_header(static_cast<std::uint64_t>(payload_bytes));
    // A JSON text of exactly B bytes (the content is the kernel's no concern; its size is).
    payload.assign(static_cast<std::size_t>(payload_bytes), 'x');
    if (payload_bytes >= 2) {
      payload.front() = '"';
      payload.back() = '"';
    }
    for (int i = 0; i < frames; ++i) {
      iov.push_back({header.data(), header.size()});
      iov.push_back({payload.data(), payload.size()});
    }
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    bytes = static_cast<std::size_t>(frames) * (header.size() + payload.size());
  }
};

struct RoundResult {
  double wall_s = 0, cpu_s = 0;
  std::uint64_t bytes = 0, short_writes = 0, would_block = 0;
};

// One sendmsg per socket, as the server's flush does.
RoundResult round_sendmsg(const std::vector<int>& fds, const Message& m) {
  RoundResult r;
  double cpu0 = thread_cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  for (int fd : fds) {
    ssize_t n = ::sendmsg(fd, &m.msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) throw sys_error("sendmsg");
      ++r.would_block;
      continue;
    }
    if (static_cast<std::size_t>(n) < m.bytes) ++r.short_writes;
    r.bytes += static_cast<std::uint64_t>(n);
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_s = thread_cpu_seconds() - cpu0;
  return r;
}

// The N sends of a round submitted together through util::BatchSender (one io_uring_enter per
// kIoUringMaxEntries sockets), each flagged MSG_DONTWAIT as with sendmsg: the server's flush
// with `server.io_uring` on.
class UringSender {
 public:
  explicit UringSender(std::size_t n) {
    std::string why;
    sender_ = util::BatchSender::open(std::min<std::size_t>(n, kIoUringMaxEntries), why);
    if (!sender_) throw std::runtime_error("floor: --io-uring: " + why);
    sends_.resize(sender_->batch());
  }

  RoundResult round(const std::vector<int>& fds, const Message& m) {
    RoundResult r;
    double cpu0 = thread_cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    for (std::size_t start = 0; start < fds.size(); start += sends_.size()) {
      std::size_t count = std::min(sends_.size(), fds.size() - start);
      for (std::size_t i = 0; i < count; ++i) {
        sends_[i].fd = fds[start + i];
        sends_[i].msg = m.msg;  // the kernel only reads it: every socket gets the same frames
      }
      sender_->send(sends_.data(), count);
      for (std::size_t i = 0; i < count; ++i) {
        const auto& s = sends_[i];
        if (s.ec == boost::asio::error::would_block || s.ec == boost::asio::error::try_again)
          ++r.would_block;
        else if (s.ec)
          throw sys_error("io_uring sendmsg", s.ec.value());
        else {
          if (s.bytes < m.bytes) ++r.short_writes;
          r.bytes += s.bytes;
        }
      }
    }
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.cpu_s = thread_cpu_seconds() - cpu0;
    return r;
  }

 private:
  std::unique_ptr<util::BatchSender> sender_;
  std::vector<util::BatchSender::Send> sends_;
};

// Waits until the reader has received `bytes` in all (it keeps up: the next round then finds
// every socket buffer empty). Sleeps in short steps so as not to take the reader's CPU.
void wait_drained(const Shared& shared, std::uint64_t bytes) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (shared.drained.load(std::memory_order_acquire) < bytes) {
    if (shared.error.load()) throw std::runtime_error("floor: the reader process failed");
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("floor: the reader did not drain a round within 10 s");
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

// The child reader and the sockets; stops and reaps the child however the run ends.
class Pairs {
 public:
  Pairs(int n, int reader_cpu) {
    void* mem = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw sys_error("mmap");
    shared_ = new (mem) Shared;
    std::uint16_t port = 0;
    int listener = listen_loopback(port);
    pid_t parent = ::getpid();
    child_ = ::fork();
    if (child_ < 0) throw sys_error("fork");
    if (child_ == 0) {
      ::close(listener);
      reader_process(n, port, reader_cpu, *shared_, parent);
    }
    try {
      writers_ = accept_writers(listener, n, *shared_);
    } catch (...) {
      ::close(listener);
      stop();
      throw;
    }
    ::close(listener);
  }
  ~Pairs() { stop(); }
  Pairs(const Pairs&) = delete;
  Pairs& operator=(const Pairs&) = delete;

  const std::vector<int>& writers() const { return writers_; }
  const Shared& shared() const { return *shared_; }

 private:
  void stop() {
    if (child_ > 0) {
      shared_->stop.store(1);
      for (int fd : writers_) ::close(fd);
      writers_.clear();
      int status = 0;
      ::waitpid(child_, &status, 0);
      child_ = -1;
    }
    if (shared_) {
      ::munmap(shared_, sizeof(Shared));
      shared_ = nullptr;
    }
  }

  Shared* shared_ = nullptr;
  pid_t child_ = -1;
  std::vector<int> writers_;
};

json::object ms_summary(std::vector<double> round_s) {
  std::sort(round_s.begin(), round_s.end());
  auto ms = [&](double p) { return percentile_of_sorted(round_s, p) * 1e3; };
  double sum = 0;
  for (double s : round_s) sum += s;
  return json::object{{"min", round_s.front() * 1e3},
                      {"mean", sum / static_cast<double>(round_s.size()) * 1e3},
                      {"p50", ms(50)},
                      {"p99", ms(99)},
                      {"max", round_s.back() * 1e3}};
}

void validate(const Options& o) {
  if (o.subscribers < 1 || o.subscribers > 100'000)
    throw std::invalid_argument("floor: --subscribers must be within 1..100000");
  if (o.rounds < 1) throw std::invalid_argument("floor: --rounds must be positive");
  if (o.frames_per_write < 1 || o.frames_per_write > kMaxFramesPerWrite)
    throw std::invalid_argument(
        fmt::format("floor: --frames-per-write must be within 1..{}", kMaxFramesPerWrite));
  if (o.payload_bytes < 0 || o.payload_bytes > 60'000)
    throw std::invalid_argument("floor: --payload-bytes must be within 0..60000");
  // Each process holds N sockets (writers here, readers in the child) and a few more.
  std::uint64_t need = static_cast<std::uint64_t>(o.subscribers) + 64;
  std::uint64_t limit = raise_fd_limit();
  if (need > limit)
    throw std::invalid_argument(fmt::format(
        "floor: {} connections need about {} open files per process; this process may open {} "
        "(ulimit -n)", o.subscribers, need, limit));
}

}  // namespace

double percentile_of_sorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::vector<unsigned char> server_text_header(std::uint64_t payload_bytes) {
  std::vector<unsigned char> h{0x81};
  if (payload_bytes < 126) {
    h.push_back(static_cast<unsigned char>(payload_bytes));
  } else if (payload_bytes <= 0xFFFF) {
    h.push_back(126);
    h.push_back(static_cast<unsigned char>(payload_bytes >> 8));
    h.push_back(static_cast<unsigned char>(payload_bytes));
  } else {
    h.push_back(127);
    for (int shift = 56; shift >= 0; shift -= 8)
      h.push_back(static_cast<unsigned char>(payload_bytes >> shift));
  }
  return h;
}

Report run_floor(const Options& o) {
  validate(o);
  const int n = o.subscribers;
  Message message(o.payload_bytes, o.frames_per_write);
  Pairs pairs(n, o.reader_cpu);
  std::optional<UringSender> uring;
  if (o.io_uring) uring.emplace(static_cast<std::size_t>(n));
  auto one_round = [&] {
    if (uring) return uring->round(pairs.writers(), message);
    return round_sendmsg(pairs.writers(), message);
  };

  std::uint64_t written = 0;
  RoundResult total;
  std::vector<double> round_wall_s;
  for (int round = 0; round < kWarmupRounds + o.rounds; ++round) {
    RoundResult r = one_round();
    written += r.bytes;
    wait_drained(pairs.shared(), written);
    if (round < kWarmupRounds) continue;
    round_wall_s.push_back(r.wall_s);
    total.wall_s += r.wall_s;
    total.cpu_s += r.cpu_s;
    total.bytes += r.bytes;
    total.short_writes += r.short_writes;
    total.would_block += r.would_block;
    if (o.progress && round % 10 == 0)
      std::fprintf(stderr, "\r[floor] round %d/%d   ", round - kWarmupRounds, o.rounds);
  }
  if (o.progress) std::fprintf(stderr, "\r%40s\r", "");

  const double writes = static_cast<double>(n) * o.rounds;
  const double frames = writes * o.frames_per_write;
  Report r;
  r.scenario = "floor";
  r.target = o.target;
  r.parameters = json::object{{"subscribers", n},
                              {"payload_bytes", o.payload_bytes},
                              {"frame_bytes", message.bytes / static_cast<std::size_t>(o.frames_per_write)},
                              {"frames_per_write", o.frames_per_write},
                              {"rounds", o.rounds},
                              {"warmup_rounds", kWarmupRounds},
                              {"method", o.io_uring ? "io_uring" : "sendmsg"},
                              {"reader", "child process, epoll"},
                              {"reader_cpu", o.reader_cpu >= 0 ? json::value(o.reader_cpu)
                                                               : json::value(nullptr)}};
  json::object& x = r.results;
  x["writes"] = static_cast<std::uint64_t>(writes);
  x["frames"] = static_cast<std::uint64_t>(frames);
  x["bytes"] = total.bytes;
  x["short_writes"] = total.short_writes;
  x["would_block"] = total.would_block;
  x["cpu_us_per_write"] = total.cpu_s * 1e6 / writes;
  x["wall_us_per_write"] = total.wall_s * 1e6 / writes;
  x["cpu_us_per_frame"] = total.cpu_s * 1e6 / frames;
  x["n_write_ms"] = ms_summary(round_wall_s);

  const auto& nw = x["n_write_ms"].as_object();
  std::string& t = r.table;
  t += fmt::format("floor [{}]: {} loopback sockets, {} frames of {} B per write, {} rounds "
                   "(+{} warm-up), reader in a child process{}\n",
                   o.io_uring ? "io_uring" : "sendmsg", n, o.frames_per_write,
                   o.payload_bytes, o.rounds, kWarmupRounds,
                   o.reader_cpu >= 0 ? fmt::format(" on CPU {}", o.reader_cpu) : "");
  t += row_text("per write", fmt::format("{:.2f} µs CPU, {:.2f} µs wall ({:.2f} µs CPU per frame)",
                                         x["cpu_us_per_write"].as_double(),
                                         x["wall_us_per_write"].as_double(),
                                         x["cpu_us_per_frame"].as_double()));
  t += row_text(fmt::format("{} writes ms", n),
                fmt::format("p50 {:.3f}  p99 {:.3f}  max {:.3f}  (min {:.3f})",
                            nw.at("p50").as_double(), nw.at("p99").as_double(),
                            nw.at("max").as_double(), nw.at("min").as_double()));
  t += row_text("incomplete", fmt::format("{} short writes, {} would block", total.short_writes,
                                          total.would_block));
  return r;
}

}  // namespace valtronics::bench
