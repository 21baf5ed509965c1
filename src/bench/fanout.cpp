// The fan-out scenario: subscribers on one io_context thread, the publisher on another, and the
// calling thread orchestrating (schedule, /proc sampling, progress line). The only file of the
// bench that includes Beast.
#include "bench/fanout.hpp"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace valtronics::bench {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;
// Sockets bound to the io_context's own executor type: the default any_io_executor is copied and
// destroyed (type-erased) on every operation, a fifth of the subscriber thread's time at 1M msg/s.
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;

// Microseconds since the epoch, derived from the steady clock so that a step of the system clock
// during a run cannot distort latencies. Shared by the publisher (stamps) and the subscribers.
struct BenchClock {
  SteadyTime st0 = SteadyClock::now();
  std::int64_t sys0_us = std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  std::int64_t us(SteadyTime t) const {
    return sys0_us + std::chrono::duration_cast<std::chrono::microseconds>(t - st0).count();
  }
  std::int64_t now_us() const { return us(SteadyClock::now()); }
};

// ---- /proc sampling ----------------------------------------------------------------------------

struct ProcSample {
  double cpu_seconds = 0;
  std::uint64_t rss_kib = 0;
};

std::optional<ProcSample> sample_proc(int pid) {
  ProcSample s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!stat || !std::getline(stat, line)) return std::nullopt;
  // Field 2 (comm) may contain spaces and parentheses: the fields we want follow the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  // fields[0] is field 3 (state); utime is field 14 and stime field 15.
  if (fields.size() < 13) return std::nullopt;
  double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  s.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line))
    if (line.starts_with("VmRSS:")) s.rss_kib = std::stoull(line.substr(6));
  return s;
}

// ---- subscribers -------------------------------------------------------------------------------

// Extracts the value of bench_seq from a telemetry_update without building a DOM:
// ..."bench_seq":{"value":1730000000000000,...  Returns nullopt for any other frame.
std::optional<double> bench_value(std::string_view msg) {
  constexpr std::string_view metric = "\"bench_seq\"";
  constexpr std::string_view key = "\"value\":";
  auto m = msg.find(metric);
  if (m == std::string_view::npos) return std::nullopt;
  auto k = msg.find(key, m + metric.size());
  if (k == std::string_view::npos) return std::nullopt;
  const char* p = msg.data() + k + key.size();
  const char* end = msg.data() + msg.size();
  while (p < end && *p == ' ') ++p;
  double v = 0;
  auto [ptr, ec] = std::from_chars(p, end, v);
  if (ec != std::errc{}) return std::nullopt;
  return v;
}

struct Sub {
  explicit Sub(asio::io_context& ioc, int device_) : ws(ioc.get_executor()), device(device_) {}
  enum class Phase { connecting, auth, subscribe, running, closed };
  websocket::stream<Socket> ws;  // Beast: handshake and the auth/subscribe writes
  std::string out;               // the frame being written (auth, subscribe)
  std::string partial;           // bytes of an incomplete frame, carried to the next read
  std::string fragments;         // a fragmented message being assembled (rare)
  Phase phase = Phase::connecting;
  int device;
  std::uint64_t received = 0;
};

// S subscribers, every handler on the one thread running `ioc`.
//
// Beast performs the handshake and writes auth and subscribe; every frame from the server is then
// read straight from the socket: wait for readability, read what is there into one scratch buffer
// shared by all connections, parse the (unmasked) server frames in place, and keep only an
// incomplete tail per connection. Beast's own reads move at most 1536 bytes per system call and
// go through a composed operation per message, which made the load generator, not the server,
// the bottleneck at a million deliveries per second. The server sends nothing before
// auth_response, so Beast's read buffer is empty when the handshake completes.
class Fleet {
 public:
  Fleet(asio::io_context& ioc, const FanoutOptions& o, tcp::endpoint ep, const BenchClock& clock)
      : ioc_(ioc), o_(o), ep_(ep), clock_(clock), scratch_(kScratch), close_timer_(ioc) {
    host_header_ = o.host + ":" + o.port;
    auth_frame_ = json::serialize(json::object{{"type", "auth"}, {"token", o.token}});
    for (int i = 0; i < o.subscribers; ++i)
      subs_.push_back(std::make_unique<Sub>(ioc, i % o.devices + 1));
  }

  void start() {
    for (int i = 0; i < o_.connect_concurrency; ++i) launch_next();
  }

  // Readable from any thread.
  int ready() const { return ready_.load(std::memory_order_relaxed); }
  int failed() const { return failed_.load(std::memory_order_relaxed); }
  std::uint64_t total_received() const { return total_.load(std::memory_order_relaxed); }
  std::string first_error() const {
    std::lock_guard lock(mu_);
    return first_error_;
  }
  void set_measure_from(std::int64_t us) { measure_from_us_.store(us, std::memory_order_relaxed); }

  // Sends a close frame on every connection, closes the sockets 200 ms later and calls on_done
  // (on the subscriber thread).
  void shutdown(std::function<void()> on_done) {
    asio::post(ioc_, [this, on_done = std::move(on_done)] {
      stopping_ = true;
      // Masked close frame, status 1000 (mask key 0: the payload is sent as is).
      static const unsigned char close_frame[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8};
      for (auto& s : subs_) {
        if (s->phase != Sub::Phase::running) continue;
        error_code ignored;
        s->ws.next_layer().write_some(asio::buffer(close_frame), ignored);
      }
      close_timer_.expires_after(std::chrono::milliseconds(200));
      close_timer_.async_wait([this, on_done](error_code) {
        for (auto& s : subs_) {
          error_code ignored;
          s->ws.next_layer().close(ignored);
          s->phase = Sub::Phase::closed;
        }
        on_done();
      });
    });
  }

  // Only after the subscriber thread has stopped.
  const std::vector<std::unique_ptr<Sub>>& subs() const { return subs_; }
  const Histogram& latency() const { return latency_; }
  std::uint64_t measured() const { return measured_; }
  std::uint64_t other_messages() const { return other_; }
  std::uint64_t errors_after_ready() const { return errors_after_ready_; }

 private:
  static constexpr std::size_t kScratch = 256 * 1024;

  void note_error(std::string what) {
    std::lock_guard lock(mu_);
    if (first_error_.empty()) first_error_ = std::move(what);
  }

  void launch_next() {
    if (stopping_ || next_ >= subs_.size()) return;
    connect(subs_[next_++].get());
  }

  // A connection ended: during set-up it failed; afterwards (unless shutting down) it was lost.
  void end(Sub* s, std::string what) {
    if (s->phase == Sub::Phase::closed) return;
    bool was_running = s->phase == Sub::Phase::running;
    s->phase = Sub::Phase::closed;
    error_code ignored;
    s->ws.next_layer().close(ignored);
    if (stopping_) return;
    if (was_running) {
      ++errors_after_ready_;
      note_error("subscriber for device " + std::to_string(s->device) + " lost: " + what);
      return;
    }
    note_error(std::move(what));
    failed_.fetch_add(1, std::memory_order_relaxed);
    launch_next();
  }

  void connect(Sub* s) {
    s->ws.next_layer().async_connect(ep_, [this, s](error_code ec) {
      if (ec) return end(s, "connect: " + ec.message());
      s->ws.next_layer().set_option(tcp::no_delay(true), ec);
      s->ws.async_handshake(host_header_, "/ws", [this, s](error_code ec) {
        if (ec) return end(s, "WebSocket handshake: " + ec.message());
        s->ws.next_layer().non_blocking(true, ec);
        s->ws.text(true);
        s->phase = Sub::Phase::auth;
        write(s, auth_frame_);
        arm(s);
      });
    });
  }

  void write(Sub* s, std::string frame) {
    s->out = std::move(frame);
    s->ws.async_write(asio::buffer(s->out), [this, s](error_code ec, std::size_t) {
      if (ec) end(s, "write: " + ec.message());
    });
  }

  void arm(Sub* s) {
    s->ws.next_layer().async_wait(Socket::wait_read, [this, s](error_code ec) {
      if (ec) return end(s, "read: " + ec.message());
      drain(s);
    });
  }

  // Reads what the socket holds (up to four scratch buffers per wake-up, for fairness), parses
  // every complete frame, keeps the tail, and waits again.
  void drain(Sub* s) {
    char* buf = scratch_.data();
    for (int round = 0; round < 4; ++round) {
      std::size_t have = s->partial.size();
      std::memcpy(buf, s->partial.data(), have);
      error_code ec;
      std::size_t n = s->ws.next_layer().read_some(asio::buffer(buf + have, kScratch - have), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) return end(s, ec == asio::error::eof ? "closed by the server" : ec.message());
      std::size_t used = parse(s, buf, have + n);
      if (s->phase == Sub::Phase::closed) return;
      if (have + n - used >= kScratch) return end(s, "frame larger than the read buffer");
      s->partial.assign(buf + used, have + n - used);
      if (have + n < kScratch) break;  // the socket is (very likely) empty
    }
    arm(s);
  }

  // Parses complete server frames in [data, data+len); returns the bytes consumed.
  std::size_t parse(Sub* s, const char* data, std::size_t len) {
    std::int64_t now = clock_.now_us();  // one clock read per system call, not per frame
    std::size_t pos = 0;
    while (len - pos >= 2) {
      auto b0 = static_cast<unsigned char>(data[pos]);
      auto b1 = static_cast<unsigned char>(data[pos + 1]);
      std::size_t hdr = 2;
      std::uint64_t plen = b1 & 0x7F;
      if (plen == 126) {
        if (len - pos < 4) break;
        plen = (std::uint64_t{static_cast<unsigned char>(data[pos + 2])} << 8) |
               static_cast<unsigned char>(data[pos + 3]);
        hdr = 4;
      } else if (plen == 127) {
        if (len - pos < 10) break;
        plen = 0;
        for (int i = 0; i < 8; ++i) plen = (plen << 8) | static_cast<unsigned char>(data[pos + 2 + i]);
        hdr = 10;
      }
      if (b1 & 0x80) hdr += 4;  // a server must not mask; skip the key if one does
      if (len - pos < hdr + plen) break;
      std::string_view payload(data + pos + hdr, static_cast<std::size_t>(plen));
      pos += hdr + static_cast<std::size_t>(plen);
      bool fin = b0 & 0x80;
      switch (b0 & 0x0F) {
        case 0x1:
        case 0x2:
          if (fin) message(s, payload, now);
          else s->fragments.assign(payload);
          break;
        case 0x0:
          s->fragments.append(payload);
          if (fin) {
            std::string whole = std::move(s->fragments);
            s->fragments.clear();
            message(s, whole, now);
          }
          break;
        case 0x8:
          end(s, "close frame from the server");
          return pos;
        case 0x9: pong(s, payload); break;
        default: break;  // pong
      }
      if (s->phase == Sub::Phase::closed) return pos;
    }
    return pos;
  }

  void pong(Sub* s, std::string_view payload) {
    if (payload.size() > 125) return;
    auto frame = std::make_shared<std::string>();
    frame->push_back(static_cast<char>(0x8A));
    frame->push_back(static_cast<char>(0x80 | payload.size()));
    frame->append(4, '\0');  // mask key 0
    frame->append(payload);
    asio::async_write(s->ws.next_layer(), asio::buffer(*frame), [frame](error_code, std::size_t) {});
  }

  void message(Sub* s, std::string_view msg, std::int64_t now) {
    if (s->phase == Sub::Phase::running) return delivery(s, msg, now);
    // Set-up replies: rare, parsed properly.
    std::string want = s->phase == Sub::Phase::auth ? "auth_response" : "subscribed";
    error_code jec;
    json::value v = json::parse(msg, jec);
    const json::object* o = jec ? nullptr : v.if_object();
    const json::string* type = o && o->contains("type") ? o->at("type").if_string() : nullptr;
    if (type == nullptr) return end(s, "unparsable reply: " + std::string(msg));
    if (*type == "error") return end(s, "server error: " + std::string(msg));
    if (*type != want) return;  // e.g. token_expiring
    if (s->phase == Sub::Phase::auth) {
      const json::value* ok = o->if_contains("success");
      if (!ok || !ok->is_bool() || !ok->get_bool())
        return end(s, "auth failed: " + std::string(msg));
      s->phase = Sub::Phase::subscribe;
      return write(s, json::serialize(json::object{{"type", "subscribe"},
                                                   {"channel", "telemetry"},
                                                   {"device_id", s->device},
                                                   {"id", "bench"}}));
    }
    s->phase = Sub::Phase::running;
    ready_.fetch_add(1, std::memory_order_relaxed);
    launch_next();
  }

  void delivery(Sub* s, std::string_view msg, std::int64_t now) {
    auto value = bench_value(msg);
    if (!value) {
      ++other_;
      return;
    }
    auto sent_us = static_cast<std::int64_t>(std::llround(*value));
    ++s->received;
    total_.store(total_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (sent_us >= measure_from_us_.load(std::memory_order_relaxed)) {
      ++measured_;
      latency_.record_signed(now - sent_us);
    }
  }

  asio::io_context& ioc_;
  const FanoutOptions& o_;
  tcp::endpoint ep_;
  const BenchClock& clock_;
  std::string host_header_, auth_frame_;
  std::vector<std::unique_ptr<Sub>> subs_;
  std::size_t next_ = 0;
  std::atomic<int> ready_{0}, failed_{0};
  std::atomic<std::uint64_t> total_{0};  // single writer: the subscriber thread
  std::atomic<std::int64_t> measure_from_us_{INT64_MAX};
  mutable std::mutex mu_;
  std::string first_error_;
  bool stopping_ = false;
  std::vector<char> scratch_;
  Histogram latency_;
  std::uint64_t measured_ = 0, other_ = 0, errors_after_ready_ = 0;
  asio::steady_timer close_timer_;
};

// ---- publisher ---------------------------------------------------------------------------------

struct Request {
  std::uint64_t k;
  SteadyTime due;
  std::string body;
};

struct Conn {
  explicit Conn(asio::io_context& ioc) : sock(ioc.get_executor()) {}
  Socket sock;
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
  std::uint64_t k = 0;
  bool busy = false, up = false;
};

// Open-loop schedule: request k is due at t0 + k*B/P and is sent then on an idle keep-alive
// connection, or as soon as one frees up (a late send). Each reading's value is its request's
// due time, so the latency the subscribers measure includes any queueing on this side too
// (no coordinated omission).
class Publisher {
 public:
  Publisher(asio::io_context& ioc, const FanoutOptions& o, tcp::endpoint ep,
            const BenchClock& clock, SteadyTime t0, SteadyTime measure_from, SteadyTime end)
      : ioc_(ioc), o_(o), ep_(ep), clock_(clock), t0_(t0), measure_from_(measure_from),
        end_(end), timer_(ioc), deadline_(ioc), accepted_(o.devices + 1, 0),
        measured_sent_(o.devices + 1, 0) {
    interval_ns_ = 1e9 * o.batch / o.rate;
    auto total_ns = std::chrono::duration<double, std::nano>(end - t0).count();
    total_requests_ = static_cast<std::uint64_t>(std::ceil(total_ns / interval_ns_));
    for (int i = 0; i < o.http_connections; ++i) conns_.push_back(std::make_unique<Conn>(ioc));
  }

  // Connects every connection (blocking, before the schedule starts).
  void connect_all() {
    for (auto& c : conns_) {
      c->sock.connect(ep_);
      c->sock.set_option(tcp::no_delay(true));
      c->up = true;
    }
  }

  void start() {
    schedule_next();
    // Replies still missing 10 s after the last due time are given up on.
    deadline_.expires_at(end_ + std::chrono::seconds(10));
    deadline_.async_wait([this](error_code ec) {
      if (ec || done_) return;
      done_ = true;
      finished_at = SteadyClock::now();
      for (auto& c : conns_) {
        if (c->busy) ++transport_errors_;
        error_code ignored;
        c->sock.close(ignored);
      }
      pending_.clear();
      timer_.cancel();
    });
  }

  std::uint64_t requests_sent = 0, requests_ok = 0, readings_sent = 0, readings_accepted = 0,
                http_errors = 0, late_sends = 0, measured_readings = 0;
  double max_lag_ms = 0;
  SteadyTime finished_at{};
  std::string first_http_error;

  std::uint64_t transport_errors() const { return transport_errors_; }
  const std::vector<std::uint64_t>& accepted_per_device() const { return accepted_; }
  const std::vector<std::uint64_t>& measured_sent_per_device() const { return measured_sent_; }
  // Progress, from any thread.
  std::uint64_t progress_sent() const { return progress_sent_.load(std::memory_order_relaxed); }

 private:
  SteadyTime due(std::uint64_t k) const {
    return t0_ + std::chrono::nanoseconds(static_cast<std::int64_t>(interval_ns_ * k));
  }

  void schedule_next() {
    if (next_k_ >= total_requests_) return maybe_finish();
    timer_.expires_at(due(next_k_));
    timer_.async_wait([this](error_code ec) {
      if (ec) return;
      auto now = SteadyClock::now();
      while (next_k_ < total_requests_ && due(next_k_) <= now) dispatch(next_k_++);
      schedule_next();
    });
  }

  int device_of(std::uint64_t reading) const { return static_cast<int>(reading % o_.devices) + 1; }

  void dispatch(std::uint64_t k) {
    Request r{k, due(k), {}};
    auto stamp = std::to_string(clock_.us(r.due));
    r.body.reserve(24 + static_cast<std::size_t>(o_.batch) * (70 + stamp.size()));
    r.body = "{\"telemetry_data\":[";
    for (int j = 0; j < o_.batch; ++j) {
      if (j) r.body += ',';
      r.body += "{\"device_id\":";
      r.body += std::to_string(device_of(k * o_.batch + j));
      r.body += ",\"metric_name\":\"bench_seq\",\"metric_value\":";
      r.body += stamp;
      r.body += '}';
    }
    r.body += "]}";
    for (auto& c : conns_)
      if (c->up && !c->busy) return send(*c, std::move(r));
    pending_.push_back(std::move(r));
  }

  void send(Conn& c, Request r) {
    auto lag = std::chrono::duration<double, std::milli>(SteadyClock::now() - r.due).count();
    if (lag > 1.0) ++late_sends;
    if (lag > max_lag_ms) max_lag_ms = lag;
    ++requests_sent;
    readings_sent += o_.batch;
    if (r.due >= measure_from_) {
      measured_readings += o_.batch;
      for (int j = 0; j < o_.batch; ++j) ++measured_sent_[device_of(r.k * o_.batch + j)];
    }
    progress_sent_.store(readings_sent, std::memory_order_relaxed);
    c.busy = true;
    c.k = r.k;
    c.req = {};
    c.req.method(http::verb::post);
    c.req.target("/api/v1/telemetry/batch");
    c.req.version(11);
    c.req.set(http::field::host, o_.host + ":" + o_.port);
    c.req.set(http::field::authorization, "Bearer " + o_.token);
    c.req.set(http::field::content_type, "application/json");
    c.req.keep_alive(true);
    c.req.body() = std::move(r.body);
    c.req.prepare_payload();
    http::async_write(c.sock, c.req, [this, &c](error_code ec, std::size_t) {
      if (ec) return broken(c);
      c.res = {};
      http::async_read(c.sock, c.buf, c.res, [this, &c](error_code ec, std::size_t) {
        if (ec) return broken(c);
        if (c.res.result_int() == 202) {
          ++requests_ok;
          readings_accepted += o_.batch;
          for (int j = 0; j < o_.batch; ++j) ++accepted_[device_of(c.k * o_.batch + j)];
        } else {
          ++http_errors;
          if (first_http_error.empty())
            first_http_error = std::to_string(c.res.result_int()) + " " + c.res.body();
        }
        c.busy = false;
        if (!c.res.keep_alive()) return reconnect(c);
        next_for(c);
      });
    });
  }

  void next_for(Conn& c) {
    if (!pending_.empty()) {
      Request r = std::move(pending_.front());
      pending_.pop_front();
      return send(c, std::move(r));
    }
    maybe_finish();
  }

  void broken(Conn& c) {
    if (done_ || !c.up) return;
    ++transport_errors_;
    c.busy = false;
    reconnect(c);
  }

  void reconnect(Conn& c) {
    error_code ignored;
    c.sock.close(ignored);
    c.up = false;
    c.buf.clear();
    if (done_) return;
    c.sock.async_connect(ep_, [this, &c](error_code ec) {
      if (ec) {
        ++transport_errors_;
        if (SteadyClock::now() > end_ + std::chrono::seconds(5)) return maybe_finish();
        auto t = std::make_shared<asio::steady_timer>(ioc_, std::chrono::milliseconds(100));
        return t->async_wait([this, &c, t](error_code) { reconnect(c); });
      }
      c.sock.set_option(tcp::no_delay(true), ec);
      c.up = true;
      next_for(c);
    });
  }

  void maybe_finish() {
    if (done_ || next_k_ < total_requests_ || !pending_.empty()) return;
    for (auto& c : conns_)
      if (c->busy) return;
    done_ = true;
    finished_at = SteadyClock::now();
    deadline_.cancel();
    for (auto& c : conns_) {
      error_code ignored;
      c->sock.shutdown(tcp::socket::shutdown_both, ignored);
      c->sock.close(ignored);
    }
  }

  asio::io_context& ioc_;
  const FanoutOptions& o_;
  tcp::endpoint ep_;
  const BenchClock& clock_;
  SteadyTime t0_, measure_from_, end_;
  double interval_ns_ = 0;
  std::uint64_t total_requests_ = 0, next_k_ = 0, transport_errors_ = 0;
  asio::steady_timer timer_, deadline_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::deque<Request> pending_;
  std::vector<std::uint64_t> accepted_;       // readings accepted, by device id
  std::vector<std::uint64_t> measured_sent_;  // readings sent after the warmup, by device id
  std::atomic<std::uint64_t> progress_sent_{0};
  bool done_ = false;
};

// Asks the kernel (EEVDF, Linux 6.12+) for a short time slice for the calling thread, so that it
// preempts a busy thread on the same CPU as soon as it wakes instead of waiting up to a full
// slice (~3 ms). Used by the publisher: its sends must be on time even when the subscriber thread
// saturates the CPU they share. Best effort: older kernels ignore or refuse it.
void request_short_slice() {
#ifdef SYS_sched_setattr
  struct {
    std::uint32_t size, sched_policy;
    std::uint64_t sched_flags;
    std::int32_t sched_nice;
    std::uint32_t sched_priority;
    std::uint64_t sched_runtime, sched_deadline, sched_period;
  } attr{};
  attr.size = sizeof attr;
  attr.sched_policy = 0;            // SCHED_OTHER
  attr.sched_runtime = 100'000;     // 100 µs slice
  (void)::syscall(SYS_sched_setattr, 0, &attr, 0);
#endif
}

double seconds(std::chrono::milliseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

FanoutResult run_fanout(const FanoutOptions& o) {
  if (o.subscribers < 1 || o.devices < 1 || o.batch < 1 || o.rate <= 0 || o.http_connections < 1 ||
      o.duration.count() <= 0)
    throw std::invalid_argument("fanout: subscribers, devices, batch, rate, connections and "
                                "duration must be positive");
  FanoutResult r;
  r.options = o;
  BenchClock clock;

  tcp::endpoint ep;
  {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    error_code ec;
    auto results = resolver.resolve(o.host, o.port, ec);
    if (ec || results.empty())
      throw std::runtime_error("cannot resolve " + o.host + ":" + o.port + ": " + ec.message());
    ep = results.begin()->endpoint();
  }

  // Subscribers: connect, authenticate, subscribe; all on one thread.
  asio::io_context sub_ioc(1);
  auto work = asio::make_work_guard(sub_ioc);
  Fleet fleet(sub_ioc, o, ep, clock);
  asio::post(sub_ioc, [&] { fleet.start(); });
  std::thread sub_thread([&] { sub_ioc.run(); });
  auto stop_subscribers = [&] {
    fleet.shutdown([&] { work.reset(); });
    sub_thread.join();
  };

  auto setup_start = SteadyClock::now();
  auto setup_deadline = setup_start + std::chrono::seconds(30) +
                        std::chrono::milliseconds(5) * o.subscribers;
  while (fleet.ready() + fleet.failed() < o.subscribers && SteadyClock::now() < setup_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (o.progress)
      std::fprintf(stderr, "\r[fanout] subscribing %d/%d", fleet.ready(), o.subscribers);
  }
  r.subscribers_ready = fleet.ready();
  r.setup_seconds = std::chrono::duration<double>(SteadyClock::now() - setup_start).count();
  if (r.subscribers_ready < o.subscribers) {
    std::string why = fleet.first_error();
    int failed = fleet.failed();
    stop_subscribers();
    if (o.progress) std::fprintf(stderr, "\n");
    throw std::runtime_error(fmt::format(
        "only {} of {} subscribers subscribed ({} failed{}){}", r.subscribers_ready, o.subscribers,
        failed, failed + r.subscribers_ready < o.subscribers ? ", the rest timed out" : "",
        why.empty() ? "" : "; first failure: " + why));
  }

  // Publisher: its own thread and io_context, open-loop schedule.
  auto t0 = SteadyClock::now() + std::chrono::milliseconds(50);
  auto measure_from = t0 + o.warmup;
  auto end = measure_from + o.duration;
  fleet.set_measure_from(clock.us(measure_from));
  asio::io_context pub_ioc(1);
  Publisher pub(pub_ioc, o, ep, clock, t0, measure_from, end);
  try {
    pub.connect_all();
  } catch (const std::exception& e) {
    stop_subscribers();
    throw std::runtime_error(std::string("publisher cannot connect: ") + e.what());
  }
  pub.start();
  std::thread pub_thread([&] {
    request_short_slice();
    pub_ioc.run();
  });

  // Measured window: from the end of the warmup to the end of the drain.
  std::this_thread::sleep_until(measure_from);
  auto window_start = SteadyClock::now();
  std::optional<ProcSample> before;
  if (o.server_pid) before = sample_proc(*o.server_pid);
  std::uint64_t received_before = fleet.total_received();

  auto last_progress = SteadyClock::now();
  std::uint64_t last_received = fleet.total_received();
  while (SteadyClock::now() < end) {
    std::this_thread::sleep_until(std::min(end, last_progress + std::chrono::seconds(1)));
    auto now = SteadyClock::now();
    if (!o.progress) {
      last_progress = now;
      continue;
    }
    auto got = fleet.total_received();
    double dt = std::chrono::duration<double>(now - last_progress).count();
    std::fprintf(stderr, "\r[fanout] %5.1fs  sent %llu readings  delivered %llu  (%.0f msg/s)   ",
                 std::chrono::duration<double>(now - t0).count(),
                 static_cast<unsigned long long>(pub.progress_sent()),
                 static_cast<unsigned long long>(got),
                 dt > 0 ? static_cast<double>(got - last_received) / dt : 0.0);
    last_progress = now;
    last_received = got;
  }
  std::uint64_t received_at_end = fleet.total_received();
  auto load_end = SteadyClock::now();
  pub_thread.join();
  if (o.progress) std::fprintf(stderr, "\r[fanout] draining %.1fs ...%40s", seconds(o.drain), "");
  std::this_thread::sleep_for(o.drain);
  auto window_end = SteadyClock::now();
  std::uint64_t received_after = fleet.total_received();
  std::optional<ProcSample> after;
  if (o.server_pid) after = sample_proc(*o.server_pid);
  if (o.progress) std::fprintf(stderr, "\r%80s\r", "");
  stop_subscribers();

  // Publisher figures.
  r.requests_sent = pub.requests_sent;
  r.requests_ok = pub.requests_ok;
  r.readings_sent = pub.readings_sent;
  r.readings_accepted = pub.readings_accepted;
  r.http_errors = pub.http_errors;
  r.transport_errors = pub.transport_errors();
  r.late_sends = pub.late_sends;
  r.max_send_lag_ms = pub.max_lag_ms;
  r.publish_seconds = std::chrono::duration<double>(
                          (pub.finished_at == SteadyTime{} ? end : pub.finished_at) - t0)
                          .count();
  if (!pub.first_http_error.empty())
    std::fprintf(stderr, "valtronics bench: first HTTP error: %s\n", pub.first_http_error.c_str());

  // Deliveries: each subscriber expects every accepted reading of its device.
  const auto& accepted = pub.accepted_per_device();
  std::uint64_t offered_deliveries = 0;
  for (const auto& s : fleet.subs()) {
    offered_deliveries += pub.measured_sent_per_device()[s->device];
    std::uint64_t want = accepted[s->device];
    r.expected += want;
    r.received += s->received;
    if (s->received < want) r.loss += want - s->received;
    else r.excess += s->received - want;
  }
  r.other_messages = fleet.other_messages();
  r.subscriber_errors = fleet.errors_after_ready();
  if (r.subscriber_errors) {
    // Stored under the same mutex; the subscriber thread has stopped.
    std::fprintf(stderr, "valtronics bench: %s\n", fleet.first_error().c_str());
  }
  r.measured_deliveries = fleet.measured();
  r.offered_per_s = static_cast<double>(pub.measured_readings) / seconds(o.duration);
  r.offered_deliveries_per_s = static_cast<double>(offered_deliveries) / seconds(o.duration);
  // Throughput actually sustained: messages received while the measured load ran.
  r.delivered_per_s = static_cast<double>(received_at_end - received_before) /
                      std::chrono::duration<double>(load_end - window_start).count();
  r.latency_us = fleet.latency();

  if (o.server_pid) {
    ServerUsage u;
    u.pid = *o.server_pid;
    u.window_seconds = std::chrono::duration<double>(window_end - window_start).count();
    u.deliveries = received_after - received_before;
    if (before && after) {
      u.cpu_seconds = after->cpu_seconds - before->cpu_seconds;
      u.rss_before_kib = before->rss_kib;
      u.rss_after_kib = after->rss_kib;
    }
    r.server = u;
  }
  return r;
}

std::string to_json(const FanoutResult& r) {
  const auto& o = r.options;
  auto ms = [&](double p) { return static_cast<double>(r.latency_us.percentile(p)) / 1000.0; };
  json::object out{
      {"scenario", "fanout"},
      {"subscribers", o.subscribers},
      {"devices", o.devices},
      {"rate", o.rate},
      {"batch", o.batch},
      {"http_connections", o.http_connections},
      {"duration_s", seconds(o.duration)},
      {"warmup_s", seconds(o.warmup)},
      {"drain_s", seconds(o.drain)},
      {"setup_s", r.setup_seconds},
      {"requests_sent", r.requests_sent},
      {"requests_ok", r.requests_ok},
      {"readings_sent", r.readings_sent},
      {"readings_accepted", r.readings_accepted},
      {"http_errors", r.http_errors},
      {"transport_errors", r.transport_errors},
      {"late_sends", r.late_sends},
      {"max_send_lag_ms", r.max_send_lag_ms},
      {"offered_per_s", r.offered_per_s},
      {"offered_deliveries_per_s", r.offered_deliveries_per_s},
      {"expected", r.expected},
      {"received", r.received},
      {"loss", r.loss},
      {"excess", r.excess},
      {"other_messages", r.other_messages},
      {"subscriber_errors", r.subscriber_errors},
      {"measured_deliveries", r.measured_deliveries},
      {"delivered_per_s", r.delivered_per_s},
      {"latency_ms",
       json::object{{"count", r.latency_us.count()},
                    {"min", static_cast<double>(r.latency_us.min()) / 1000.0},
                    {"mean", r.latency_us.mean() / 1000.0},
                    {"p50", ms(50)},
                    {"p90", ms(90)},
                    {"p99", ms(99)},
                    {"p99.9", ms(99.9)},
                    {"max", static_cast<double>(r.latency_us.max()) / 1000.0}}},
  };
  if (r.server) {
    const auto& s = *r.server;
    out["server"] = json::object{{"pid", s.pid},
                                 {"cpu_s", s.cpu_seconds},
                                 {"window_s", s.window_seconds},
                                 {"deliveries", s.deliveries},
                                 {"cpu_us_per_delivery", s.cpu_us_per_delivery()},
                                 {"cpu_percent", s.cpu_percent()},
                                 {"rss_before_kib", s.rss_before_kib},
                                 {"rss_kib", s.rss_after_kib}};
  } else {
    out["server"] = nullptr;
  }
  return json::serialize(out);
}

std::string to_table(const FanoutResult& r) {
  const auto& o = r.options;
  auto ms = [&](double p) { return static_cast<double>(r.latency_us.percentile(p)) / 1000.0; };
  std::string t;
  t += fmt::format("fanout: {} subscribers over {} devices, {} readings/s offered for {}s "
                   "(warmup {}s, batch {}, {} HTTP connections)\n",
                   o.subscribers, o.devices, o.rate, seconds(o.duration), seconds(o.warmup),
                   o.batch, o.http_connections);
  t += fmt::format("  {:<22}{:.2f} s for {} subscribers\n", "setup", r.setup_seconds,
                   r.subscribers_ready);
  t += fmt::format("  {:<22}{:.0f} readings/s = {:.0f} deliveries/s ({} sent, {} accepted)\n",
                   "offered", r.offered_per_s, r.offered_deliveries_per_s, r.readings_sent,
                   r.readings_accepted);
  t += fmt::format("  {:<22}{} HTTP errors, {} transport errors, {} late sends (max lag {:.2f} ms)\n",
                   "publisher", r.http_errors, r.transport_errors, r.late_sends, r.max_send_lag_ms);
  t += fmt::format("  {:<22}{:.0f} msg/s received during the window\n", "delivered",
                   r.delivered_per_s);
  t += fmt::format("  {:<22}{} (expected {}, received {}{}{})\n", "loss", r.loss, r.expected,
                   r.received, r.excess ? fmt::format(", {} unexpected", r.excess) : "",
                   r.subscriber_errors
                       ? fmt::format(", {} subscriber connections lost", r.subscriber_errors)
                       : "");
  t += fmt::format("  {:<22}p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  p99.9 {:.3f}  max {:.3f}  "
                   "({} samples)\n",
                   "latency ms", ms(50), ms(90), ms(99), ms(99.9),
                   static_cast<double>(r.latency_us.max()) / 1000.0, r.latency_us.count());
  if (r.server) {
    const auto& s = *r.server;
    t += fmt::format("  {:<22}{:.2f} µs CPU per delivery ({:.1f}% of a core over {:.1f}s), "
                     "RSS {:.1f} MiB (was {:.1f} MiB)\n",
                     fmt::format("server pid {}", s.pid), s.cpu_us_per_delivery(),
                     s.cpu_percent(), s.window_seconds,
                     static_cast<double>(s.rss_after_kib) / 1024.0,
                     static_cast<double>(s.rss_before_kib) / 1024.0);
  }
  return t;
}

}  // namespace valtronics::bench
