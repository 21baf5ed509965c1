// The two halves of a bench run, on plain asio sockets (no Beast):
//   Fleet      WebSocket client connections of one event-loop thread, speaking our protocol, MQTT
//              or NATS; either held open (subscribers) or churned (the connect scenario).
//   Publisher  HTTP ingest (our protocol) on an open-loop schedule or closed loop, or MQTT/NATS
//              PUBLISH/PUB over plain TCP on an open-loop schedule.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bench/accounting.hpp"
#include "bench/scenarios.hpp"
#include "bench/histogram.hpp"
#include "bench/protocols.hpp"
#include "bench/tls_client.hpp"

namespace valtronics::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
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

// ---- Fleet -------------------------------------------------------------------------------------

struct Conn;

class Fleet {
 public:
  enum class Mode {
    hold,   // connect, set up, stay subscribed and count deliveries until shutdown()
    churn,  // connect, set up, send a close frame, wait for the server to close; repeat
  };
  // `devices[i]` is the device of connection i (hold); `slow[i]` (if given) makes it a slow
  // consumer: SO_RCVBUF 4096 before connecting, and once subscribed it is never read again
  // (until the final check in shutdown()). In churn mode `concurrency` connections cycle,
  // device i % D + 1, until `churn_until`.
  Fleet(const Options& o, Mode mode, tcp::endpoint ep, std::vector<tcp::endpoint> sources,
        const BenchClock& clock, std::vector<int> devices, int concurrency, SteadyTime churn_until,
        std::vector<bool> slow = {});
  ~Fleet();

  void start();  // from any thread, before or after run() begins
  void run();    // the thread body: runs the io_context until shutdown completes
  // Hold: first, if there are slow consumers, reads them again until each is closed by the
  // server or quiet for 100 ms (at most 2 s), to find those the server disconnected (close
  // frame, end of stream or reset behind the data it had queued); then sends a close frame on
  // every connection, closes them 200 ms later, stops run().
  // Churn: stops launching, lets connections in flight finish (at most 3 s), stops run().
  void shutdown();

  // Readable from any thread.
  int ready() const { return ready_.load(std::memory_order_relaxed); }
  int failed() const { return failed_.load(std::memory_order_relaxed); }
  std::uint64_t total_received() const { return total_.load(std::memory_order_relaxed); }
  std::uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  std::string first_error() const;
  void set_measure_from(std::int64_t us) { measure_from_us_.store(us, std::memory_order_relaxed); }

  // Only after run() has returned.
  struct Totals {
    Histogram latency_us, setup_us;
    std::uint64_t measured = 0, other = 0, errors_after_ready = 0, bytes = 0;
    std::uint64_t close_timeouts = 0, clean_closes = 0, completed_in_window = 0;
    std::uint64_t slow = 0, slow_disconnected = 0;  // slow consumers; those the server dropped
    std::string slow_disconnect_reason;             // the first one's
  };
  const Totals& totals() const { return totals_; }
  // Every held connection: its device, what it received, whether it is a slow consumer, and
  // (reading subscribers) the telemetry tally: conflated frames and the final value.
  struct Held {
    int device = 0;
    std::uint64_t received = 0;
    bool slow = false;
    SubscriberTally tally;
  };
  std::vector<Held> per_connection() const;

 private:
  void launch_next();
  void start_conn(Conn* c);
  void restart_later(Conn* c);
  void tls_step(Conn* c);  // wss://: the TLS handshake, before the upgrade
  void send(Conn* c, std::string_view data);
  void flush(Conn* c);
  void tls_flush(Conn* c);
  void arm(Conn* c);
  // `first_n`: bytes the completed read left in the connection's `first` buffer (none: read
  // straight from the socket).
  void drain(Conn* c, std::optional<std::size_t> first_n);
  void read_failed(Conn* c, boost::system::error_code ec);
  std::size_t consume(Conn* c, const char* data, std::size_t len);
  void on_upgraded(Conn* c);
  void on_data(Conn* c, const struct FrameView& f);
  void on_message_ours(Conn* c, std::string_view msg);
  std::size_t on_stream(Conn* c, std::string_view data);
  std::size_t on_stream_mqtt(Conn* c, std::string_view data);
  std::size_t on_stream_nats(Conn* c, std::string_view data);
  void ready(Conn* c);
  void delivery(Conn* c, std::string_view msg);
  void end(Conn* c, std::string what);
  void close_socket(Conn* c);
  void note_error(std::string what);
  void sweep();
  void check_slow(SteadyTime deadline);
  void close_all();

  asio::io_context ioc_{1};
  const Options& o_;
  Mode mode_;
  tcp::endpoint ep_;
  std::vector<tcp::endpoint> sources_;
  std::size_t next_source_ = 0;
  const BenchClock& clock_;
  std::string upgrade_, first_msg_, subscribe_tail_;
  static std::string subscribe_frame(int device);  // our telemetry subscribe, as a frame
  std::vector<std::unique_ptr<Conn>> conns_;
  std::size_t next_ = 0;
  int concurrency_;
  SteadyTime churn_until_;
  int active_ = 0;  // churn: connections in flight
  std::atomic<int> ready_{0}, failed_{0};
  std::atomic<std::uint64_t> total_{0}, completed_{0};  // single writer: this thread
  std::atomic<std::int64_t> measure_from_us_{INT64_MAX};
  mutable std::mutex mu_;
  std::string first_error_;
  bool stopping_ = false;
  bool checking_slow_ = false;  // shutdown: slow consumers are read again
  std::vector<char> scratch_;
  std::shared_ptr<SSL_CTX> tls_;  // wss:// (null for ws://)
  std::int64_t now_us_ = 0;
  Totals totals_;
  asio::steady_timer timer_, stop_timer_;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
};

// ---- Publisher ---------------------------------------------------------------------------------

struct PubConn;

class Publisher {
 public:
  enum class Mode {
    open_loop,    // batch k due at t0 + k*B/P, sent then whatever the replies (fanout)
    closed_loop,  // each connection sends its next batch on the reply to the previous (ingest)
  };
  Publisher(const Options& o, Mode mode, tcp::endpoint ep, const BenchClock& clock,
            const PayloadShape& shape, SteadyTime t0, SteadyTime measure_from, SteadyTime end);
  ~Publisher();

  // Connects (and for MQTT/NATS completes the protocol handshake), blocking; throws on failure.
  void connect_all();
  void start();
  void run();  // the thread body

  std::uint64_t requests_sent = 0, requests_ok = 0, readings_sent = 0, readings_accepted = 0,
                http_errors = 0, late_sends = 0, measured_readings = 0, protocol_errors = 0;
  double max_lag_ms = 0;
  SteadyTime finished_at{};
  std::string first_error;
  Histogram request_latency_us;  // HTTP: from send to reply

  std::uint64_t transport_errors() const { return transport_errors_; }
  // Per device, the stamp of the last reading accepted (HTTP 2xx; MQTT/NATS: written).
  const LastAccepted& last_accepted() const { return last_accepted_; }
  bool synced() const { return synced_; }  // MQTT/NATS: the broker acknowledged the last publish
  const std::vector<std::uint64_t>& accepted_per_device() const { return accepted_; }
  const std::vector<std::uint64_t>& measured_sent_per_device() const { return measured_sent_; }
  // From any thread.
  std::uint64_t progress_sent() const { return progress_sent_.load(std::memory_order_relaxed); }
  std::uint64_t progress_accepted() const {
    return progress_accepted_.load(std::memory_order_relaxed);
  }

 private:
  SteadyTime due(std::uint64_t k) const;
  int device_of(std::uint64_t reading) const {
    return static_cast<int>(reading % static_cast<std::uint64_t>(o_.devices)) + 1;
  }
  void schedule_next();
  void dispatch(std::uint64_t k, SteadyTime due);
  std::string http_request(std::uint64_t k, SteadyTime stamp_time);
  // The connection with the fewest requests in flight that has room for one more, if any.
  PubConn* free_connection();
  void send_http(PubConn& c, std::uint64_t k, SteadyTime due, std::string request);
  void http_flush(PubConn& c);
  void count_accepted(std::uint64_t k, std::int64_t stamp);
  void read_loop(PubConn& c);
  void on_bytes(PubConn& c);
  void on_http_reply(PubConn& c, int status, std::string_view body);
  void next_for(PubConn& c);
  void stream_write(PubConn& c, std::string_view data);
  void stream_flush(PubConn& c);
  void broken(PubConn& c, const std::string& what);
  void reconnect(PubConn& c);
  void maybe_finish();
  void finish();
  void count_sent(std::uint64_t k, SteadyTime due);

  asio::io_context ioc_{1};
  const Options& o_;
  Mode mode_;
  bool http_;  // POSTs to our ingest API
  bool mqtt_;  // MQTT PUBLISHes: to a broker under test, or to the server's MQTT ingest
  tcp::endpoint ep_;
  const BenchClock& clock_;
  const PayloadShape& shape_;
  std::string http_prefix_;
  bool single_ = false;  // --batch 1: POST /api/v1/telemetry with one reading, not a batch of one
  SteadyTime t0_, measure_from_, end_;
  double interval_ns_ = 0;
  std::uint64_t total_requests_ = 0, next_k_ = 0, transport_errors_ = 0;
  asio::steady_timer timer_, deadline_;
  std::vector<std::unique_ptr<PubConn>> conns_;
  std::deque<std::pair<std::uint64_t, SteadyTime>> pending_;
  std::vector<std::uint64_t> accepted_, measured_sent_, seq_;
  LastAccepted last_accepted_;
  std::vector<std::string> topics_;
  std::atomic<std::uint64_t> progress_sent_{0}, progress_accepted_{0};
  bool done_ = false, synced_ = false, syncing_ = false;
  std::size_t rr_ = 0;
};

}  // namespace valtronics::bench
