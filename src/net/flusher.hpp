// When one I/O thread's queued frames go to their sockets: the cork. Frames queued for a
// connection wait, and leave in one gathered write, while more are known to be coming:
//   - events already in the thread's shard inbox (their drain runs first),
//   - input handled since the flush last looked (a request or frames just read: the loop is
//     busy, and what it reads next may produce more events; one more loop turn lets the
//     reactor read what already arrived),
//   - HTTP sessions busy with a request already read, or holding the next pipelined one (each
//     takes a few loop turns to reach the engine; at most limits::kMaxBusyTurns turns, so a
//     client that pipelines and never reads its answers cannot hold the writes),
//   - ingest in flight (accepted by the engine, events not yet published: Hub::park), waited
//     for without spinning, until the hub wakes the thread.
// Never longer than limits::kMaxCorkDelay after the first frame was queued. A light load waits
// for nothing (the loop is idle at once); a heavy one gets one write per connection for the
// updates of many requests, whichever connections they came over, pipelined or not.
//
// A flush writes for at most limits::kFlushSlice per loop turn, then waits as a new one would
// (for requests read meanwhile to be handled and answered) before it goes on: reading and
// answering ingest goes ahead of fan-out, also during a long flush (10 000 sockets).
//
// With `server.io_uring` (the default) a round's writes go to the kernel in batches of
// kWritesPerSubmit, one system call per batch (util::BatchSender) instead of one sendmsg per
// connection; a connection whose batched write left frames queued, and every TLS connection,
// is written on its own as before. Without io_uring (not built, refused by the kernel, or
// switched off) every write is a sendmsg.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/batch_send.hpp"

namespace valtronics::hub {
class Hub;
class Shard;
}  // namespace valtronics::hub

namespace valtronics::net {

class WsSession;

class Flusher {
 public:
  // `ioc` may not be constructed yet (the Worker declares this first, so that sessions ending
  // with the io_context still find it): nothing here touches it before attach().
  explicit Flusher(boost::asio::io_context& ioc) : ioc_(ioc) {}

  // Sockets written per io_uring submission: enough to spread the system call's cost (a few
  // microseconds here) thin, few enough that the slice's clock is read often.
  static constexpr std::size_t kWritesPerSubmit = 64;

  // Once, before the thread runs: the hub and this thread's shard index; `batched_writes`
  // asks for io_uring (server.io_uring).
  void attach(hub::Hub& hub, std::size_t shard, bool batched_writes);
  // How this thread writes, for the start-up log: "io_uring, ..." or "sendmsg, ...".
  const std::string& write_method() const { return write_method_; }
  // Before the io_context goes: drops the timer and every pending session.
  void stop();
  // `s` has frames queued and is not yet in a flush: it is written in the thread's next one.
  void dirty(std::shared_ptr<WsSession> s);
  // Input was handled on this thread: a flush about to start gives the loop one more turn.
  void input() { ++input_; }
  // An HTTP session starts (true) or stops (false) being busy with a request it has read.
  void busy(bool on) { busy_ += on ? 1 : -1; }
  // The hub's wake (Hub::park): no ingest is in flight any more.
  void on_wake();
  // Shutdown: forgets every pending session.
  void clear();

 private:
  void schedule();  // a flush is due: post it unless one is already on its way
  void repost();    // look again after one more loop turn
  void run();
  bool should_wait();
  void write_batch();  // the next kWritesPerSubmit sessions of the round, in one submission

  boost::asio::io_context& ioc_;
  std::optional<boost::asio::steady_timer> cork_timer_;  // bounds a wait for ingest in flight
  hub::Hub* hub_ = nullptr;
  hub::Shard* shard_ = nullptr;
  std::size_t index_ = 0;
  std::vector<std::shared_ptr<WsSession>> dirty_;  // waiting for the next flush
  std::vector<std::shared_ptr<WsSession>> round_;  // the flush being written
  std::size_t round_next_ = 0;
  bool posted_ = false;  // a run() is queued, parked or writing its round
  std::chrono::steady_clock::time_point corked_at_{};
  std::uint64_t input_ = 0, input_seen_ = 0;
  int busy_ = 0;        // HTTP sessions busy with a request
  int busy_turns_ = 0;  // loop turns this flush waited for them
  // io_uring (null: one sendmsg per session) and the scratch of one batch: the sessions, their
  // sends, and every iovec they gathered (msg_iov points into it once all are gathered).
  std::unique_ptr<util::BatchSender> sender_;
  std::string write_method_ = "sendmsg per connection";
  std::vector<std::shared_ptr<WsSession>> batch_;
  std::vector<util::BatchSender::Send> sends_;
  std::vector<std::pair<std::size_t, std::size_t>> spans_;  // (first iovec, count) per send
  std::vector<iovec> iovs_;
};

}  // namespace valtronics::net
