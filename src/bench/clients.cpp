// Fleet (WebSocket clients) and Publisher: see clients.hpp.
#include "bench/clients.hpp"
#include "util/socket_io.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cmath>
#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace valtronics::bench {

using boost::system::error_code;

namespace {
constexpr std::size_t kScratch = 256 * 1024;

bool would_block(const error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

// Opens `sock` and binds it to `source` (port chosen at connect time, so that each source
// address has the whole ephemeral range per destination).
void bind_source(Socket& sock, const tcp::endpoint& source, error_code& ec) {
  sock.open(source.protocol(), ec);
  if (ec) return;
  int one = 1;
  ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  sock.bind(source, ec);
}

// One non-blocking send / receive (util/socket_io.hpp: no FIONBIO round trip per connection).
std::size_t send_now(Socket& sock, const char* data, std::size_t size, error_code& ec) {
  iovec iov{const_cast<char*>(data), size};
  return util::send_now(sock.native_handle(), &iov, 1, ec);
}

std::size_t receive_now(Socket& sock, char* data, std::size_t size, error_code& ec) {
  return util::receive_now(sock.native_handle(), data, size, ec);
}
}  // namespace

// wss://: the same steps through the connection's TLS (see the overloads' users below).

// ---- Fleet -------------------------------------------------------------------------------------

struct Conn {
  explicit Conn(asio::io_context& ioc) : sock(ioc.get_executor()) {}
  enum class Phase { idle, connecting, upgrading, setup, running, closing, closed };
  Socket sock;
  Phase phase = Phase::idle;
  int step = 0;            // protocol set-up step
  int device = 1;
  unsigned generation = 0; // handlers of an earlier connection on this slot are ignored
  std::string carry;       // unparsed bytes: incomplete handshake reply or WebSocket frame
  std::string stream;      // MQTT/NATS: incomplete packet; ours: a fragmented message
  std::string out, queued; // bytes being written, bytes waiting for that write
  bool writing = false;
  bool slow = false;       // slow consumer: not read once subscribed (see Fleet)
  std::uint64_t received = 0;
  SubscriberTally tally;   // reading subscribers: conflation and the final value
  SteadyTime started, phase_since;
  SteadyTime last_data;    // slow consumer, final check: when bytes last came in
  SslPtr ssl;              // wss:// only
  // What the pending read itself receives. A read (unlike a readiness wait) needs no epoll
  // re-arm when it starts after a short read, which saves one syscall per wake-up; what does
  // not fit is read on into the thread's scratch buffer.
  std::array<char, 512> first;
};

namespace {
// A connection's one non-blocking send / receive: through its TLS for wss://.
std::size_t io_send(Conn* c, const char* data, std::size_t size, error_code& ec) {
  if (c->ssl) return tls_send(c->ssl.get(), data, size, ec);
  return send_now(c->sock, data, size, ec);
}
std::size_t io_receive(Conn* c, char* data, std::size_t size, error_code& ec) {
  if (c->ssl) return tls_receive(c->ssl.get(), data, size, ec);
  return receive_now(c->sock, data, size, ec);
}
}  // namespace

struct FrameView {
  unsigned opcode;
  bool fin;
  std::string_view payload;
};

Fleet::Fleet(const Options& o, Mode mode, tcp::endpoint ep, std::vector<tcp::endpoint> sources,
             const BenchClock& clock, std::vector<int> devices, int concurrency,
             SteadyTime churn_until, std::vector<bool> slow)
    : o_(o), mode_(mode), ep_(ep), sources_(std::move(sources)), clock_(clock),
      concurrency_(std::max(1, concurrency)), churn_until_(churn_until), scratch_(kScratch),
      timer_(ioc_), stop_timer_(ioc_) {
  std::string host_header = o.ws.host + ":" + o.ws.port;
  if (o.ws.tls) tls_ = make_client_tls_context();
  upgrade_ = ws::upgrade_request(host_header, o.ws.path,
                                 o.target == Target::mqtt ? "mqtt" : "");
  if (speaks_ours(o.target)) {
    // Our protocol: the token is JSON-escaped by construction (JWTs are base64url and dots).
    ws::append_frame(first_msg_, ws::kText, "{\"type\":\"auth\",\"token\":\"" + o.token + "\"}");
  }
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      ioc_.get_executor());
  if (mode == Mode::hold) {
    for (std::size_t i = 0; i < devices.size(); ++i) {
      conns_.push_back(std::make_unique<Conn>(ioc_));
      conns_.back()->device = devices[i];
      if (i < slow.size() && slow[i]) {
        conns_.back()->slow = true;
        ++totals_.slow;
      }
    }
  } else {
    for (int i = 0; i < concurrency_; ++i) {
      conns_.push_back(std::make_unique<Conn>(ioc_));
      conns_.back()->device = i % o.devices + 1;
    }
  }
}

Fleet::~Fleet() = default;

std::string Fleet::first_error() const {
  std::lock_guard lock(mu_);
  return first_error_;
}

void Fleet::note_error(std::string what) {
  std::lock_guard lock(mu_);
  if (first_error_.empty()) first_error_ = std::move(what);
}

std::vector<Fleet::Held> Fleet::per_connection() const {
  std::vector<Held> out;
  out.reserve(conns_.size());
  for (const auto& c : conns_) out.push_back({c->device, c->received, c->slow, c->tally});
  return out;
}

void Fleet::start() {
  asio::post(ioc_, [this] {
    if (mode_ == Mode::hold) {
      for (int i = 0; i < o_.connect_concurrency; ++i) launch_next();
    } else {
      for (auto& c : conns_) {
        ++active_;
        start_conn(c.get());
      }
      sweep();
    }
  });
}

void Fleet::run() { ioc_.run(); }

void Fleet::launch_next() {
  if (stopping_ || next_ >= conns_.size()) return;
  start_conn(conns_[next_++].get());
}

void Fleet::start_conn(Conn* c) {
  ++c->generation;
  c->phase = Conn::Phase::connecting;
  c->step = 0;
  c->carry.clear();
  c->stream.clear();
  c->out.clear();
  c->queued.clear();
  c->writing = false;
  c->started = c->phase_since = SteadyClock::now();
  error_code ec;
  if (!sources_.empty()) {
    bind_source(c->sock, sources_[next_source_++ % sources_.size()], ec);
    if (ec) return end(c, "bind: " + ec.message());
  }
  if (c->slow) {
    // A small receive buffer, set before connecting so that the window is small from the start:
    // the server's writes back up soon after this connection stops reading.
    if (!c->sock.is_open()) c->sock.open(ep_.protocol(), ec);
    if (!ec) c->sock.set_option(asio::socket_base::receive_buffer_size(4096), ec);
    if (ec) return end(c, "slow consumer socket: " + ec.message());
  }
  unsigned gen = c->generation;
  c->sock.async_connect(ep_, [this, c, gen](error_code ec) {
    if (gen != c->generation) return;
    if (ec) return end(c, "connect: " + ec.message());
    c->sock.set_option(tcp::no_delay(true), ec);
    if (tls_) {
      c->sock.non_blocking(true, ec);  // OpenSSL reads and writes the fd itself
      if (ec) return end(c, "non-blocking: " + ec.message());
      try {
        c->ssl = new_client_tls(tls_.get(), c->sock.native_handle());
      } catch (const std::exception& e) {
        return end(c, e.what());
      }
      return tls_step(c);
    }
    c->phase = Conn::Phase::upgrading;
    send(c, upgrade_);
    arm(c);
  });
}

void Fleet::tls_step(Conn* c) {
  std::string error;
  const TlsStep step = tls_handshake(c->ssl.get(), error);
  if (step == TlsStep::failed) return end(c, "TLS handshake: " + error);
  if (step == TlsStep::done) {
    c->phase = Conn::Phase::upgrading;
    send(c, upgrade_);
    arm(c);
    return;
  }
  unsigned gen = c->generation;
  c->sock.async_wait(step == TlsStep::want_read ? Socket::wait_read : Socket::wait_write,
                     [this, c, gen](error_code ec) {
                       if (gen != c->generation) return;
                       if (ec) return end(c, "TLS handshake: " + ec.message());
                       tls_step(c);
                     });
}

// Writes now if the socket takes it (set-up messages are small); otherwise queues behind an
// asynchronous write.
void Fleet::send(Conn* c, std::string_view data) {
  if (c->phase == Conn::Phase::closed) return;
  if (c->writing) {
    c->queued.append(data);
    return;
  }
  error_code ec;
  std::size_t n = io_send(c, data.data(), data.size(), ec);
  if (ec && !would_block(ec)) return end(c, "write: " + ec.message());
  if (ec) n = 0;
  if (n == data.size()) return;
  c->out.assign(data.substr(n));
  flush(c);
}

void Fleet::flush(Conn* c) {
  c->writing = true;
  if (c->ssl) return tls_flush(c);
  unsigned gen = c->generation;
  asio::async_write(c->sock, asio::buffer(c->out), [this, c, gen](error_code ec, std::size_t) {
    if (gen != c->generation) return;
    c->writing = false;
    if (ec) return end(c, "write: " + ec.message());
    c->out.clear();
    if (!c->queued.empty()) {
      std::swap(c->out, c->queued);
      flush(c);
    }
  });
}

// wss://: wait for room, write what is left of `out` (the same bytes first, as OpenSSL needs),
// then whatever was queued meanwhile.
void Fleet::tls_flush(Conn* c) {
  unsigned gen = c->generation;
  c->sock.async_wait(Socket::wait_write, [this, c, gen](error_code ec) {
    if (gen != c->generation) return;
    if (ec) return end(c, "write: " + ec.message());
    while (!c->out.empty()) {
      std::size_t n = io_send(c, c->out.data(), c->out.size(), ec);
      if (would_block(ec)) return tls_flush(c);
      if (ec) return end(c, "write: " + ec.message());
      c->out.erase(0, n);
      if (c->out.empty()) std::swap(c->out, c->queued);
    }
    c->writing = false;
  });
}

void Fleet::arm(Conn* c) {
  unsigned gen = c->generation;
  if (c->ssl) {
    // TLS: wait for readability and read through OpenSSL (records, not the raw stream).
    c->sock.async_wait(Socket::wait_read, [this, c, gen](error_code ec) {
      if (gen != c->generation) return;
      if (ec) return read_failed(c, ec);
      drain(c, std::nullopt);
    });
    return;
  }
  c->sock.async_read_some(asio::buffer(c->first), [this, c, gen](error_code ec, std::size_t n) {
    if (gen != c->generation) return;
    if (ec) return read_failed(c, ec);
    drain(c, n);
  });
}

void Fleet::read_failed(Conn* c, error_code ec) {
  if (c->phase == Conn::Phase::closing && mode_ == Mode::churn) {
    // The server closed after our close frame: the expected ending.
    ++totals_.clean_closes;
    close_socket(c);
    return restart_later(c);
  }
  end(c, ec == asio::error::eof ? "closed by the server" : "read: " + ec.message());
}

// Parses the `first` bytes the read brought, then (when they filled it) reads on what the
// socket holds into the scratch buffer shared by every connection of this thread (after the
// connection's carried tail), parses in place, keeps the new tail, reads again. At most four
// reads per wake-up, for fairness between connections.
void Fleet::drain(Conn* c, std::optional<std::size_t> first_n) {
  char* buf = scratch_.data();
  unsigned gen = c->generation;
  // Returns false when the connection ended or stopped being read.
  auto take = [&](std::size_t have, std::size_t n) {
    now_us_ = clock_.now_us();  // one clock read per system call, not per message
    if (c->slow) c->last_data = SteadyClock::now();
    std::size_t used = consume(c, buf, have + n);
    if (gen != c->generation || c->phase == Conn::Phase::closed) return false;
    if (have + n - used >= kScratch) {
      end(c, "message larger than the read buffer");
      return false;
    }
    c->carry.assign(buf + used, have + n - used);
    // A slow consumer, once subscribed, is no longer watched: the socket stays open, unread.
    return !(c->slow && c->phase == Conn::Phase::running && !checking_slow_);
  };
  if (first_n) {
    std::size_t have = c->carry.size();
    std::memcpy(buf, c->carry.data(), have);
    std::memcpy(buf + have, c->first.data(), *first_n);
    if (!take(have, *first_n)) return;
    if (*first_n < c->first.size()) return arm(c);  // a short read: the socket is empty
  }
  // A TLS read returns one record (16 KB at most): more rounds, and only would_block says the
  // socket is empty.
  const int rounds = c->ssl ? 16 : 4;
  for (int round = 0; round < rounds; ++round) {
    std::size_t have = c->carry.size();
    std::memcpy(buf, c->carry.data(), have);
    error_code ec;
    std::size_t n = io_receive(c, buf + have, kScratch - have, ec);
    if (would_block(ec)) break;
    if (ec) return read_failed(c, ec);
    if (!take(have, n)) return;
    if (!c->ssl && have + n < kScratch) break;  // the socket is (very likely) empty
  }
  arm(c);
}

std::size_t Fleet::consume(Conn* c, const char* data, std::size_t len) {
  std::string_view in(data, len);
  std::size_t pos = 0;
  if (c->phase == Conn::Phase::upgrading) {
    HttpHead h;
    Parse r = parse_http_head(in, h);
    if (r == Parse::incomplete) return 0;
    if (r == Parse::malformed) {
      end(c, "WebSocket handshake: malformed reply");
      return len;
    }
    if (h.status != 101) {
      end(c, "WebSocket handshake: HTTP " + std::to_string(h.status));
      return len;
    }
    pos = h.header_bytes;
    on_upgraded(c);
    if (c->phase == Conn::Phase::closed) return len;
  }
  while (pos < len) {
    ws::Frame f;
    std::size_t n = 0;
    Parse r = ws::next_frame(in.substr(pos), f, n);
    if (r == Parse::incomplete) break;
    if (r == Parse::malformed) {
      end(c, "malformed WebSocket frame");
      return len;
    }
    pos += n;
    switch (f.opcode) {
      case 0x0:
      case ws::kText:
      case ws::kBinary: on_data(c, FrameView{f.opcode, f.fin, f.payload}); break;
      case ws::kClose:
        if (c->phase != Conn::Phase::closing) {
          unsigned code = f.payload.size() >= 2
                              ? (static_cast<unsigned char>(f.payload[0]) << 8) |
                                    static_cast<unsigned char>(f.payload[1])
                              : 0;
          end(c, "close frame from the server (" + std::to_string(code) + ")");
          return len;
        }
        break;  // closing: the server closes the TCP connection next
      case ws::kPing: {
        if (f.payload.size() <= 125) {
          std::string pong;
          ws::append_frame(pong, ws::kPong, f.payload);
          send(c, pong);
        }
        break;
      }
      default: break;
    }
    if (c->phase == Conn::Phase::closed) return len;
  }
  return pos;
}

void Fleet::on_upgraded(Conn* c) {
  c->phase = Conn::Phase::setup;
  c->step = 0;
  switch (o_.target) {
    case Target::valtronics:
    case Target::node:
      if (!o_.pipeline) return send(c, first_msg_);
      return send(c, first_msg_ + subscribe_frame(c->device));
    case Target::mqtt: {
      std::string frame;
      static std::atomic<std::uint64_t> ids{0};
      ws::append_frame(frame, ws::kBinary,
                       mqtt::connect("vb-" + std::to_string(ids.fetch_add(1)), 60, true));
      if (o_.pipeline) {  // MQTT 3.1.1 (3.1.4): a client need not wait for CONNACK
        ws::append_frame(frame, ws::kBinary, mqtt::subscribe(1, mqtt::topic(c->device), 0));
        c->step = 1;
      }
      send(c, frame);
      break;
    }
    case Target::nats: break;  // the server speaks first (INFO)
  }
}

void Fleet::on_data(Conn* c, const FrameView& f) {
  if (speaks_ours(o_.target)) {
    // Whole messages; a fragmented one (rare) is assembled.
    if (f.opcode != 0 && f.fin && c->stream.empty()) return on_message_ours(c, f.payload);
    if (f.opcode != 0) c->stream.assign(f.payload);
    else c->stream.append(f.payload);
    if (f.fin) {
      std::string whole = std::move(c->stream);
      c->stream.clear();
      on_message_ours(c, whole);
    }
    return;
  }
  // MQTT and NATS: the frames' payloads form one byte stream; packets may straddle frames.
  if (c->stream.empty()) {
    std::size_t used = on_stream(c, f.payload);
    if (c->phase != Conn::Phase::closed && used < f.payload.size())
      c->stream.assign(f.payload.substr(used));
  } else {
    c->stream.append(f.payload);
    std::size_t used = on_stream(c, c->stream);
    if (c->phase != Conn::Phase::closed) c->stream.erase(0, used);
  }
}

std::size_t Fleet::on_stream(Conn* c, std::string_view data) {
  return o_.target == Target::mqtt ? on_stream_mqtt(c, data) : on_stream_nats(c, data);
}

std::size_t Fleet::on_stream_mqtt(Conn* c, std::string_view data) {
  std::size_t pos = 0;
  while (pos < data.size()) {
    mqtt::Packet p;
    std::size_t n = 0;
    Parse r = mqtt::next_packet(data.substr(pos), p, n);
    if (r == Parse::incomplete) break;
    if (r == Parse::malformed) {
      end(c, "malformed MQTT packet");
      return data.size();
    }
    pos += n;
    switch (p.type) {
      case mqtt::kPublish: {
        mqtt::Publish pub;
        if (!mqtt::parse_publish(p, pub)) {
          end(c, "malformed MQTT PUBLISH");
          return data.size();
        }
        if (c->phase == Conn::Phase::running) delivery(c, pub.payload);
        else ++totals_.other;
        break;
      }
      case mqtt::kConnack: {
        int code = mqtt::connack_code(p);
        if (code != 0) {
          end(c, "MQTT CONNACK refused (code " + std::to_string(code) + ")");
          return data.size();
        }
        if (c->step == 1) break;  // pipelined: SUBSCRIBE went with CONNECT
        std::string frame;
        ws::append_frame(frame, ws::kBinary, mqtt::subscribe(1, mqtt::topic(c->device), 0));
        c->step = 1;
        send(c, frame);
        break;
      }
      case mqtt::kSuback: {
        std::uint16_t id = 0;
        std::uint8_t granted = 0;
        if (!mqtt::parse_suback(p, id, granted) || granted == 0x80) {
          end(c, "MQTT SUBSCRIBE refused");
          return data.size();
        }
        if (c->phase == Conn::Phase::setup) ready(c);
        break;
      }
      default: break;  // PINGRESP, ...
    }
    if (c->phase == Conn::Phase::closed) return data.size();
  }
  return pos;
}

std::size_t Fleet::on_stream_nats(Conn* c, std::string_view data) {
  std::size_t pos = 0;
  while (pos < data.size()) {
    nats::Op op;
    std::size_t n = 0;
    Parse r = nats::next_op(data.substr(pos), op, n);
    if (r == Parse::incomplete) break;
    if (r == Parse::malformed) {
      end(c, "malformed NATS operation");
      return data.size();
    }
    pos += n;
    switch (op.kind) {
      case nats::Op::Kind::msg:
        if (c->phase == Conn::Phase::running) delivery(c, op.payload);
        else ++totals_.other;
        break;
      case nats::Op::Kind::info:
        if (c->phase == Conn::Phase::setup && c->step == 0) {
          std::string frame, ops = nats::connect() + nats::sub(nats::subject(c->device), 1) + "PING\r\n";
          ws::append_frame(frame, ws::kBinary, ops);
          c->step = 1;
          send(c, frame);
        }
        break;
      case nats::Op::Kind::ping: {
        std::string frame;
        ws::append_frame(frame, ws::kBinary, "PONG\r\n");
        send(c, frame);
        break;
      }
      case nats::Op::Kind::pong:
        if (c->phase == Conn::Phase::setup && c->step == 1) ready(c);
        break;
      case nats::Op::Kind::err:
        end(c, "NATS " + std::string(op.line));
        return data.size();
      default: break;
    }
    if (c->phase == Conn::Phase::closed) return data.size();
  }
  return pos;
}

void Fleet::on_message_ours(Conn* c, std::string_view msg) {
  if (c->phase == Conn::Phase::running) return delivery(c, msg);
  if (c->phase != Conn::Phase::setup) return;
  // Set-up replies, recognised without a DOM (compact JSON from our server and JSON.stringify).
  if (msg.find("\"type\":\"error\"") != std::string_view::npos)
    return end(c, "server error: " + std::string(msg.substr(0, 300)));
  if (c->step == 0) {
    if (msg.find("\"auth_response\"") == std::string_view::npos) return;
    if (msg.find("\"success\":true") == std::string_view::npos)
      return end(c, "auth failed: " + std::string(msg.substr(0, 300)));
    c->step = 1;
    if (o_.pipeline) return;  // the subscribe went with the auth
    return send(c, subscribe_frame(c->device));
  }
  if (msg.find("\"type\":\"subscribed\"") != std::string_view::npos) ready(c);
}

std::string Fleet::subscribe_frame(int device) {
  std::string frame;
  ws::append_frame(frame, ws::kText,
                   "{\"type\":\"subscribe\",\"channel\":\"telemetry\",\"device_id\":" +
                       std::to_string(device) + ",\"id\":\"bench\"}");
  return frame;
}

void Fleet::ready(Conn* c) {
  auto now = SteadyClock::now();
  auto setup = std::chrono::duration_cast<std::chrono::microseconds>(now - c->started).count();
  if (mode_ == Mode::hold) {
    totals_.setup_us.record_signed(setup);
    c->phase = Conn::Phase::running;
    ready_.fetch_add(1, std::memory_order_relaxed);
    return launch_next();
  }
  // Churn: set up; count it if within the window, then close from our side with a close
  // frame so that the server closes the TCP connection first (TIME_WAIT stays on its side).
  completed_.store(completed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (now <= churn_until_) {
    ++totals_.completed_in_window;
    totals_.setup_us.record_signed(setup);
  }
  c->phase = Conn::Phase::closing;
  c->phase_since = now;
  static const std::string close = ws::close_frame();
  send(c, close);
}

void Fleet::delivery(Conn* c, std::string_view msg) {
  if (c->slow) {  // read only in the final check: not part of any figure
    ++c->received;
    return;
  }
  auto value = bench_value(msg);
  if (!value) {
    ++totals_.other;
    return;
  }
  auto sent_us = static_cast<std::int64_t>(std::llround(*value));
  ++c->received;
  c->tally.received(sent_us, conflated_count(msg));
  totals_.bytes += msg.size();
  total_.store(total_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (sent_us >= measure_from_us_.load(std::memory_order_relaxed)) {
    ++totals_.measured;
    totals_.latency_us.record_signed(now_us_ - sent_us);
  }
}

void Fleet::close_socket(Conn* c) {
  error_code ignored;
  c->sock.close(ignored);
  c->ssl.reset();
  c->phase = Conn::Phase::closed;
}

// A connection ended: during set-up it failed; afterwards (unless shutting down) it was lost.
void Fleet::end(Conn* c, std::string what) {
  if (c->phase == Conn::Phase::closed || c->phase == Conn::Phase::idle) return;
  bool was_running = c->phase == Conn::Phase::running;
  bool was_closing = c->phase == Conn::Phase::closing;
  close_socket(c);
  if (mode_ == Mode::churn) {
    if (!was_closing) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      note_error(std::move(what));
    } else {
      ++totals_.clean_closes;  // e.g. reset after the close handshake
    }
    return restart_later(c);
  }
  if (was_running && c->slow && (checking_slow_ || !stopping_)) {
    // The server dropped a consumer that stopped reading: a figure, not a failure.
    if (totals_.slow_disconnected++ == 0) totals_.slow_disconnect_reason = what;
    return;
  }
  if (stopping_) return;
  if (was_running) {
    ++totals_.errors_after_ready;
    note_error("connection for device " + std::to_string(c->device) + " lost: " + what);
    return;
  }
  note_error(std::move(what));
  failed_.fetch_add(1, std::memory_order_relaxed);
  launch_next();
}

// Churn: the slot starts its next connection (from a fresh handler, never inside a parse).
void Fleet::restart_later(Conn* c) {
  ++c->generation;  // invalidates handlers still queued for the old socket
  if (stopping_ || SteadyClock::now() >= churn_until_) {
    c->phase = Conn::Phase::idle;
    if (--active_ == 0 && stopping_) {
      timer_.cancel();
      stop_timer_.cancel();
      work_.reset();
    }
    return;
  }
  asio::post(ioc_, [this, c] { start_conn(c); });
}

// Churn: every 200 ms, gives up on connections stuck in set-up (10 s) or waiting for the
// server to close (2 s).
void Fleet::sweep() {
  auto now = SteadyClock::now();
  for (auto& cp : conns_) {
    Conn* c = cp.get();
    if (c->phase == Conn::Phase::closing && now - c->phase_since > std::chrono::seconds(2)) {
      ++totals_.close_timeouts;
      close_socket(c);
      restart_later(c);
    } else if (c->phase != Conn::Phase::closing && c->phase != Conn::Phase::idle &&
               c->phase != Conn::Phase::closed && now - c->started > std::chrono::seconds(10)) {
      end(c, "set-up timed out after 10 s");
    }
  }
  if (stopping_ && active_ == 0) return;
  timer_.expires_after(std::chrono::milliseconds(200));
  timer_.async_wait([this](error_code ec) {
    if (!ec) sweep();
  });
}

void Fleet::shutdown() {
  asio::post(ioc_, [this] {
    stopping_ = true;
    if (mode_ == Mode::churn) {
      // Connections in flight finish (or time out in the sweep); idle slots are released.
      if (active_ == 0) {
        timer_.cancel();
        work_.reset();
        return;
      }
      stop_timer_.expires_after(std::chrono::seconds(3));
      stop_timer_.async_wait([this](error_code ec) {
        if (ec) return;
        for (auto& c : conns_)
          if (c->phase != Conn::Phase::idle) close_socket(c.get());
        timer_.cancel();
        work_.reset();
        ioc_.stop();
      });
      return;
    }
    bool any_slow = false;
    for (auto& c : conns_)
      if (c->slow && c->phase == Conn::Phase::running) any_slow = true;
    if (!any_slow) return close_all();
    // Slow consumers: one last look. Whatever the server queued is read (and discarded) until
    // the connection ends or goes quiet; a close frame, end of stream or reset behind that data
    // means the server disconnected it.
    checking_slow_ = true;
    auto now = SteadyClock::now();
    for (auto& c : conns_)
      if (c->slow && c->phase == Conn::Phase::running) {
        c->last_data = now;
        drain(c.get(), std::nullopt);
      }
    check_slow(now + std::chrono::seconds(2));
  });
}

void Fleet::check_slow(SteadyTime deadline) {
  auto now = SteadyClock::now();
  bool pending = false;
  for (auto& c : conns_)
    if (c->slow && c->phase == Conn::Phase::running &&
        now - c->last_data < std::chrono::milliseconds(100))
      pending = true;
  if (!pending || now >= deadline) return close_all();
  stop_timer_.expires_after(std::chrono::milliseconds(20));
  stop_timer_.async_wait([this, deadline](error_code) { check_slow(deadline); });
}

void Fleet::close_all() {
  checking_slow_ = false;
  static const std::string close = ws::close_frame();
  for (auto& c : conns_) {
    if (c->phase != Conn::Phase::running || c->writing) continue;
    error_code ignored;
    send_now(c->sock, close.data(), close.size(), ignored);
  }
  timer_.expires_after(std::chrono::milliseconds(200));
  timer_.async_wait([this](error_code) {
    for (auto& c : conns_) {
      ++c->generation;
      close_socket(c.get());
    }
    work_.reset();
  });
}

// ---- Publisher ---------------------------------------------------------------------------------

struct PubConn {
  PubConn(asio::io_context& ioc, int pipeline)
      : sock(ioc.get_executor()), rbuf(64 * 1024), in_flight(pipeline) {}
  Socket sock;
  bool up = false, writing = false, synced = false;
  std::string out, queued;  // being written, waiting
  std::string in;           // unparsed reply bytes
  std::vector<char> rbuf;
  InFlight in_flight;       // HTTP: requests awaiting their reply, oldest first
  unsigned generation = 0;
};

Publisher::Publisher(const Options& o, Mode mode, tcp::endpoint ep, const BenchClock& clock,
                     const PayloadShape& shape, SteadyTime t0, SteadyTime measure_from,
                     SteadyTime end)
    : o_(o), mode_(mode), http_(speaks_ours(o.target) && !o.ingest_mqtt),
      mqtt_(o.target == Target::mqtt || o.ingest_mqtt), ep_(ep), clock_(clock), shape_(shape),
      t0_(t0), measure_from_(measure_from), end_(end), timer_(ioc_), deadline_(ioc_),
      accepted_(o.devices + 1, 0), measured_sent_(o.devices + 1, 0), seq_(o.devices + 1, 0),
      last_accepted_(o.devices) {
  interval_ns_ = 1e9 * o.batch / o.rate;
  if (mode == Mode::open_loop) {
    auto total_ns = std::chrono::duration<double, std::nano>(end - t0).count();
    total_requests_ = static_cast<std::uint64_t>(std::ceil(total_ns / interval_ns_));
  }
  // One-reading devices post the reading itself to /api/v1/telemetry (same 202 reply).
  single_ = o.batch == 1;
  http_prefix_ = std::string("POST ") +
                 (single_ ? "/api/v1/telemetry" : "/api/v1/telemetry/batch") +
                 " HTTP/1.1\r\nHost: " + o.http.host + ":" +
                 o.http.port + "\r\nAuthorization: Bearer " + o.token +
                 "\r\nContent-Type: application/json\r\nContent-Length: ";
  topics_.resize(o.devices + 1);
  for (int d = 1; d <= o.devices; ++d)
    topics_[d] = o.ingest_mqtt ? "valtronics/devices/" + std::to_string(d) + "/telemetry"
                 : mqtt_       ? mqtt::topic(d)
                               : nats::subject(d);
  // Pipelining is an HTTP matter: MQTT/NATS publishes are never answered one by one.
  int pipeline = http_ ? o.publish_pipeline : 1;
  for (int i = 0; i < o.http_connections; ++i)
    conns_.push_back(std::make_unique<PubConn>(ioc_, pipeline));
}

Publisher::~Publisher() = default;

namespace {
// Blocking read until `done(buffer)` says the reply is complete; throws after 10 s or on error.
template <class Done>
void read_until(Socket& sock, std::string& buf, Done done, const char* what) {
  auto deadline = SteadyClock::now() + std::chrono::seconds(10);
  char tmp[4096];
  while (!done(buf)) {
    if (SteadyClock::now() > deadline) throw std::runtime_error(std::string(what) + ": timed out");
    error_code ec;
    std::size_t n = sock.read_some(asio::buffer(tmp), ec);
    if (ec) throw std::runtime_error(std::string(what) + ": " + ec.message());
    buf.append(tmp, n);
  }
}
}  // namespace

void Publisher::connect_all() {
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    PubConn& c = *conns_[i];
    c.sock.connect(ep_);
    c.sock.set_option(tcp::no_delay(true));
    if (mqtt_) {
      asio::write(c.sock, asio::buffer(mqtt::connect("vb-pub-" + std::to_string(i), 60, true)));
      std::string buf;
      int code = -2;
      read_until(c.sock, buf, [&](const std::string& b) {
        mqtt::Packet p;
        std::size_t n = 0;
        if (mqtt::next_packet(b, p, n) != Parse::ok) return false;
        code = mqtt::connack_code(p);
        return true;
      }, "MQTT publisher CONNACK");
      if (code != 0) throw std::runtime_error("MQTT publisher: CONNACK code " + std::to_string(code));
    } else if (o_.target == Target::nats) {
      std::string buf;
      read_until(c.sock, buf, [](const std::string& b) { return b.find("\r\n") != b.npos; },
                 "NATS publisher INFO");
      buf.clear();
      asio::write(c.sock, asio::buffer(nats::connect() + "PING\r\n"));
      read_until(c.sock, buf, [](const std::string& b) { return b.find("PONG\r\n") != b.npos || b.find("-ERR") != b.npos; },
                 "NATS publisher PONG");
      if (buf.find("-ERR") != std::string::npos)
        throw std::runtime_error("NATS publisher: " + buf.substr(buf.find("-ERR")));
    }
    c.sock.non_blocking(true);
    c.up = true;
  }
}

void Publisher::start() {
  asio::post(ioc_, [this] {
    for (auto& c : conns_) read_loop(*c);
    if (mode_ == Mode::open_loop) {
      schedule_next();
    } else {
      for (auto& c : conns_) next_for(*c);
    }
    // Replies still missing 10 s after the end are given up on.
    deadline_.expires_at(end_ + std::chrono::seconds(10));
    deadline_.async_wait([this](error_code ec) {
      if (ec || done_) return;
      for (auto& c : conns_)
        if (!c->in_flight.empty() || (!http_ && !c->synced)) ++transport_errors_;
      if (first_error.empty()) first_error = "replies missing 10 s after the end";
      finish();
    });
  });
}

void Publisher::run() { ioc_.run(); }

SteadyTime Publisher::due(std::uint64_t k) const {
  return t0_ + std::chrono::nanoseconds(static_cast<std::int64_t>(interval_ns_ * k));
}

void Publisher::schedule_next() {
  if (next_k_ >= total_requests_) return maybe_finish();
  timer_.expires_at(due(next_k_));
  timer_.async_wait([this](error_code ec) {
    if (ec || done_) return;
    auto now = SteadyClock::now();
    while (next_k_ < total_requests_ && due(next_k_) <= now) {
      dispatch(next_k_, due(next_k_));
      ++next_k_;
    }
    schedule_next();
  });
}

void Publisher::count_sent(std::uint64_t k, SteadyTime due) {
  auto lag = std::chrono::duration<double, std::milli>(SteadyClock::now() - due).count();
  if (mode_ == Mode::open_loop) {
    if (lag > 1.0) ++late_sends;
    if (lag > max_lag_ms) max_lag_ms = lag;
  }
  ++requests_sent;
  readings_sent += o_.batch;
  if (due >= measure_from_) {
    measured_readings += o_.batch;
    for (int j = 0; j < o_.batch; ++j) ++measured_sent_[device_of(k * o_.batch + j)];
  }
  progress_sent_.store(readings_sent, std::memory_order_relaxed);
}

std::string Publisher::http_request(std::uint64_t k, SteadyTime stamp_time) {
  auto stamp = std::to_string(clock_.us(stamp_time));
  std::string body;
  body.reserve(32 + static_cast<std::size_t>(o_.batch) * (shape_.update_bytes + 16));
  if (single_) {
    append_ingest_item(body, device_of(k), stamp, shape_);
  } else {
    body = "{\"telemetry_data\":[";
    for (int j = 0; j < o_.batch; ++j) {
      if (j) body += ',';
      append_ingest_item(body, device_of(k * o_.batch + j), stamp, shape_);
    }
    body += "]}";
  }
  std::string req;
  req.reserve(http_prefix_.size() + 16 + body.size());
  req = http_prefix_;
  req += std::to_string(body.size());
  req += "\r\n\r\n";
  req += body;
  return req;
}

void Publisher::dispatch(std::uint64_t k, SteadyTime due) {
  if (http_) {
    if (PubConn* c = free_connection()) return send_http(*c, k, due, http_request(k, due));
    pending_.emplace_back(k, due);
    return;
  }
  // MQTT/NATS: one PUBLISH/PUB per reading, written behind whatever is still going out.
  count_sent(k, due);
  std::int64_t stamp_us = clock_.us(due);
  auto stamp = std::to_string(stamp_us);
  auto iso = iso_timestamp(stamp_us);
  PubConn& c = *conns_[rr_++ % conns_.size()];
  std::string payload;
  std::string& out = c.writing ? c.queued : c.out;
  for (int j = 0; j < o_.batch; ++j) {
    int d = device_of(k * o_.batch + j);
    payload.clear();
    // To the server's MQTT ingest: the ingest API's item; to a broker under test: the update
    // its subscribers receive.
    if (o_.ingest_mqtt) append_ingest_item(payload, d, stamp, shape_);
    else append_update(payload, d, stamp, iso, ++seq_[d], shape_);
    if (mqtt_) mqtt::append_publish(out, topics_[d], payload);
    else nats::append_pub(out, topics_[d], payload);
    ++accepted_[d];
    last_accepted_.accepted(d, stamp_us);
  }
  readings_accepted += o_.batch;
  progress_accepted_.store(readings_accepted, std::memory_order_relaxed);
  if (!c.up) {
    out.clear();
    return;
  }
  if (!c.writing) stream_flush(c);
}

void Publisher::stream_flush(PubConn& c) {
  if (c.out.empty()) return;
  c.writing = true;
  asio::async_write(c.sock, asio::buffer(c.out), [this, &c](error_code ec, std::size_t) {
    c.writing = false;
    c.out.clear();
    if (ec) return broken(c, "write: " + ec.message());
    if (!c.queued.empty()) {
      std::swap(c.out, c.queued);
      stream_flush(c);
    } else {
      maybe_finish();
    }
  });
}

PubConn* Publisher::free_connection() {
  PubConn* best = nullptr;
  for (auto& c : conns_)
    if (c->up && c->in_flight.has_room() && (!best || c->in_flight.size() < best->in_flight.size()))
      best = c.get();
  return best;
}

// Pipelined requests go out behind the one being written (one write at a time per socket).
void Publisher::send_http(PubConn& c, std::uint64_t k, SteadyTime due, std::string request) {
  count_sent(k, due);
  c.in_flight.sent({k, clock_.us(due), SteadyClock::now()});
  if (c.writing) {
    c.queued += request;
    return;
  }
  c.out = std::move(request);
  http_flush(c);
}

void Publisher::http_flush(PubConn& c) {
  c.writing = true;
  unsigned gen = c.generation;
  asio::async_write(c.sock, asio::buffer(c.out), [this, &c, gen](error_code ec, std::size_t) {
    if (gen != c.generation) return;
    c.writing = false;
    c.out.clear();
    if (ec) return broken(c, "write: " + ec.message());
    if (c.queued.empty()) return;
    std::swap(c.out, c.queued);
    http_flush(c);
  });
}

void Publisher::read_loop(PubConn& c) {
  unsigned gen = c.generation;
  c.sock.async_read_some(asio::buffer(c.rbuf), [this, &c, gen](error_code ec, std::size_t n) {
    if (gen != c.generation || done_) return;
    if (ec) return broken(c, ec == asio::error::eof ? "closed by the server" : "read: " + ec.message());
    c.in.append(c.rbuf.data(), n);
    on_bytes(c);
    if (gen == c.generation && !done_) read_loop(c);
  });
}

void Publisher::on_bytes(PubConn& c) {
  if (http_) {
    for (;;) {
      HttpHead h;
      Parse r = parse_http_head(c.in, h);
      if (r == Parse::incomplete) return;
      if (r == Parse::malformed) return broken(c, "malformed HTTP reply");
      std::size_t body_len = 0, skip = 0;
      std::string_view body;
      if (h.chunked) {
        std::size_t n = 0;
        Parse b = chunked_body_length(std::string_view(c.in).substr(h.header_bytes), n);
        if (b == Parse::incomplete) return;
        if (b == Parse::malformed) return broken(c, "malformed chunked reply");
        skip = n;
        body = "(chunked)";
      } else {
        body_len = h.content_length.value_or(0);
        if (c.in.size() < h.header_bytes + body_len) return;
        skip = body_len;
        body = std::string_view(c.in).substr(h.header_bytes, body_len);
      }
      on_http_reply(c, h.status, body);
      c.in.erase(0, h.header_bytes + skip);
      if (h.close) return reconnect(c);
      if (c.in.empty()) return;
    }
  }
  // MQTT/NATS: the broker's replies are few (PINGRESP, PING, PONG, -ERR).
  std::size_t pos = 0;
  std::string_view in(c.in);
  while (pos < in.size()) {
    std::size_t n = 0;
    if (mqtt_) {
      mqtt::Packet p;
      Parse r = mqtt::next_packet(in.substr(pos), p, n);
      if (r != Parse::ok) break;
      if (p.type == mqtt::kPingresp && syncing_) c.synced = true;
    } else {
      nats::Op op;
      Parse r = nats::next_op(in.substr(pos), op, n);
      if (r != Parse::ok) break;
      if (op.kind == nats::Op::Kind::ping) stream_write(c, "PONG\r\n");
      else if (op.kind == nats::Op::Kind::pong && syncing_) c.synced = true;
      else if (op.kind == nats::Op::Kind::err) {
        ++protocol_errors;
        if (first_error.empty()) first_error = "NATS " + std::string(op.line);
      }
    }
    pos += n;
  }
  c.in.erase(0, pos);
  maybe_finish();
}

void Publisher::stream_write(PubConn& c, std::string_view data) {
  (c.writing ? c.queued : c.out).append(data);
  if (!c.writing) stream_flush(c);
}

void Publisher::count_accepted(std::uint64_t k, std::int64_t stamp) {
  ++requests_ok;
  readings_accepted += o_.batch;
  for (int j = 0; j < o_.batch; ++j) {
    int d = device_of(k * o_.batch + j);
    ++accepted_[d];
    last_accepted_.accepted(d, stamp);
  }
  progress_accepted_.store(readings_accepted, std::memory_order_relaxed);
}

// Replies come in request order on a connection (HTTP/1.1): each answers the oldest request.
void Publisher::on_http_reply(PubConn& c, int status, std::string_view body) {
  auto request = c.in_flight.answered();
  if (!request) return;
  auto now = SteadyClock::now();
  request_latency_us.record_signed(
      std::chrono::duration_cast<std::chrono::microseconds>(now - request->sent_at).count());
  // 202 (both routes); 200 would be ?sync=true: any 2xx is accepted.
  if (status >= 200 && status < 300) {
    count_accepted(request->k, request->stamp);
  } else {
    ++http_errors;
    if (first_error.empty()) first_error = "HTTP " + std::to_string(status) + " " + std::string(body.substr(0, 300));
  }
  next_for(c);
}

// Fills the connection's pipeline: the next closed-loop requests, or open-loop batches that
// were due while every connection was full.
void Publisher::next_for(PubConn& c) {
  if (done_ || !c.up) return;
  while (c.in_flight.has_room()) {
    if (mode_ == Mode::closed_loop) {
      auto now = SteadyClock::now();
      if (now >= end_) break;
      std::uint64_t k = next_k_++;
      send_http(c, k, now, http_request(k, now));
      continue;
    }
    if (pending_.empty()) break;
    auto [k, due] = pending_.front();
    pending_.pop_front();
    send_http(c, k, due, http_request(k, due));
  }
  maybe_finish();
}

void Publisher::broken(PubConn& c, const std::string& what) {
  if (done_ || !c.up) return;
  ++transport_errors_;
  if (first_error.empty()) first_error = what;
  c.in_flight.clear();  // their replies will never come: not accepted
  if (http_) return reconnect(c);
  // MQTT/NATS: readings queued on this connection are lost; the others carry on.
  ++c.generation;
  error_code ignored;
  c.sock.close(ignored);
  c.up = false;
  c.synced = true;
  maybe_finish();
}

void Publisher::reconnect(PubConn& c) {
  ++c.generation;
  error_code ignored;
  c.sock.close(ignored);
  c.up = false;
  c.in_flight.clear();
  c.writing = false;
  c.out.clear();
  c.queued.clear();
  c.in.clear();
  if (done_) return;
  unsigned gen = c.generation;
  c.sock.async_connect(ep_, [this, &c, gen](error_code ec) {
    if (gen != c.generation || done_) return;
    if (ec) {
      ++transport_errors_;
      if (SteadyClock::now() > end_ + std::chrono::seconds(5)) return maybe_finish();
      auto t = std::make_shared<asio::steady_timer>(ioc_, std::chrono::milliseconds(100));
      return t->async_wait([this, &c, t](error_code) { reconnect(c); });
    }
    c.sock.set_option(tcp::no_delay(true), ec);
    c.sock.non_blocking(true, ec);
    c.up = true;
    read_loop(c);
    next_for(c);
  });
}

void Publisher::maybe_finish() {
  if (done_) return;
  if (mode_ == Mode::open_loop && (next_k_ < total_requests_ || !pending_.empty())) return;
  if (mode_ == Mode::closed_loop && SteadyClock::now() < end_) return;
  if (http_) {
    for (auto& c : conns_)
      if (!c->in_flight.empty()) return;
    return finish();
  }
  // MQTT/NATS: once everything is written, a PINGREQ/PING on each connection; its reply comes
  // after the broker has processed every publish before it.
  for (auto& c : conns_)
    if (c->up && (c->writing || !c->out.empty())) return;
  if (!syncing_) {
    syncing_ = true;
    for (auto& c : conns_)
      if (c->up) stream_write(*c, mqtt_ ? mqtt::pingreq() : "PING\r\n");
    return;
  }
  for (auto& c : conns_)
    if (!c->synced) return;
  synced_ = true;
  finish();
}

void Publisher::finish() {
  if (done_) return;
  done_ = true;
  finished_at = SteadyClock::now();
  timer_.cancel();
  deadline_.cancel();
  pending_.clear();
  for (auto& c : conns_) {
    ++c->generation;
    error_code ignored;
    if (c->up && mqtt_) {
      c->sock.non_blocking(false, ignored);
      asio::write(c->sock, asio::buffer(mqtt::disconnect()), ignored);
    }
    c->sock.shutdown(tcp::socket::shutdown_both, ignored);
    c->sock.close(ignored);
  }
}

}  // namespace valtronics::bench
