// The cork's decisions (see flusher.hpp) and the sliced write of a flush round.
#include "net/flusher.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <exception>

#include "config/limits.hpp"
#include "hub/hub.hpp"
#include "net/ws_session.hpp"

namespace valtronics::net {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

void Flusher::attach(hub::Hub& hub, std::size_t shard, bool batched_writes) {
  hub_ = &hub;
  index_ = shard;
  shard_ = &hub.shard(shard);
  cork_timer_.emplace(ioc_);
  if (!batched_writes) {
    write_method_ = "sendmsg per connection (server.io_uring = false)";
    return;
  }
  std::string why;
  sender_ = util::BatchSender::open(kWritesPerSubmit, why);
  if (!sender_) {
    write_method_ = "sendmsg per connection (io_uring unavailable: " + why + ")";
    return;
  }
  write_method_ = "io_uring, " + std::to_string(kWritesPerSubmit) + " sockets per submission";
  sends_.resize(kWritesPerSubmit);
}

void Flusher::stop() {
  clear();
  cork_timer_.reset();
}

void Flusher::dirty(std::shared_ptr<WsSession> s) {
  dirty_.push_back(std::move(s));
  schedule();
}

void Flusher::schedule() {
  if (posted_) return;
  posted_ = true;
  if (shard_) shard_->flush_scheduled();  // this flush ends with shard_->written()
  corked_at_ = Clock::now();
  input_seen_ = input_;
  busy_turns_ = 0;
  asio::post(ioc_, [this] { run(); });
}

void Flusher::repost() {
  asio::post(ioc_, [this] { run(); });
}

void Flusher::on_wake() {
  if (cork_timer_) cork_timer_->cancel();
  run();
}

void Flusher::clear() {
  dirty_.clear();
  round_.clear();
  round_next_ = 0;
  batch_.clear();
}

// True when this run should not write yet (it arranged to run again).
bool Flusher::should_wait() {
  if (!cork_timer_ || Clock::now() - corked_at_ >= limits::kMaxCorkDelay) return false;
  if (shard_->has_queued()) {
    repost();  // the drain posted ahead of this run queues its frames first
    return true;
  }
  if (busy_ > 0 && busy_turns_ < limits::kMaxBusyTurns) {
    ++busy_turns_;
    repost();
    return true;
  }
  if (input_ != input_seen_) {
    input_seen_ = input_;
    repost();
    return true;
  }
  if (hub_->ingest_in_flight() && hub_->park(index_)) {
    // The hub posts on_wake once the ingest is done; the timer ends the wait if it is not done
    // within the cork's bound (a steady stream of requests may never leave none in flight).
    cork_timer_->expires_at(corked_at_ + limits::kMaxCorkDelay);
    cork_timer_->async_wait([this](boost::system::error_code ec) {
      if (!ec && hub_->unpark(index_)) run();
    });
    return true;
  }
  return false;
}

void Flusher::run() {
  if (round_next_ == round_.size()) {
    // No round in progress: start one, unless more frames are on their way.
    round_.clear();
    round_next_ = 0;
    if (dirty_.empty()) {
      posted_ = false;
      if (shard_) shard_->written(Clock::now());  // nothing to write: what was drained is out
      return;
    }
    if (should_wait()) return;
    round_.swap(dirty_);
  } else if (should_wait()) {
    // Between two slices of a round: requests read meanwhile are handled and answered first
    // (a request takes several loop turns to reach the engine and be answered; without this
    // wait a publisher waiting for its answer would get one step per slice).
    return;
  }
  const auto slice_end = Clock::now() + limits::kFlushSlice;
  for (std::size_t n = 1; round_next_ < round_.size(); ++n) {
    if (sender_) {
      write_batch();
    } else {
      auto s = std::move(round_[round_next_++]);
      s->flush();
    }
    // The clock is read every batch, or every few sockets: a write costs a few microseconds.
    if ((sender_ || n % 16 == 0) && round_next_ < round_.size() && Clock::now() >= slice_end) {
      // The rest of the round once the loop's other work is done, waited for as a new flush
      // is (and as long at most).
      corked_at_ = Clock::now();
      input_seen_ = input_;
      busy_turns_ = 0;
      repost();
      return;
    }
  }
  round_.clear();
  round_next_ = 0;
  posted_ = false;
  if (shard_) shard_->written(Clock::now());  // the enqueue-to-write latency of what it carried
  if (!dirty_.empty()) schedule();  // sessions given frames while the round was written
}

void Flusher::write_batch() {
  batch_.clear();
  spans_.clear();
  iovs_.clear();
  while (round_next_ < round_.size() && batch_.size() < sender_->batch()) {
    auto s = std::move(round_[round_next_++]);
    const std::size_t first = iovs_.size();
    if (!s->gather_for_batch(iovs_)) {
      s->flush();  // TLS, blocked or nothing queued: on its own
      continue;
    }
    spans_.emplace_back(first, iovs_.size() - first);
    batch_.push_back(std::move(s));
  }
  if (batch_.empty()) return;
  // iovs_ has stopped growing: the pointers into it hold until the batch is sent.
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    auto& send = sends_[i];
    send.fd = batch_[i]->native_handle();
    send.msg = {};
    send.msg.msg_iov = iovs_.data() + spans_[i].first;
    send.msg.msg_iovlen = spans_[i].second;
  }
  try {
    sender_->send(sends_.data(), batch_.size());
  } catch (const std::exception& e) {
    // The ring itself failed (not a socket): which of these writes the kernel did is unknown,
    // so these connections' streams cannot be trusted; they are closed (clients reconnect) and
    // the thread goes on with sendmsg.
    spdlog::error("I/O thread {}: io_uring failed ({}); closing the {} connections of the "
                  "batch and writing with sendmsg from now on", index_, e.what(), batch_.size());
    sender_.reset();
    write_method_ = "sendmsg per connection (io_uring failed)";
    for (auto& s : batch_) s->abort_batch();
    batch_.clear();
    return;
  }
  for (std::size_t i = 0; i < batch_.size(); ++i) batch_[i]->batch_sent(sends_[i].bytes, sends_[i].ec);
  batch_.clear();
}

}  // namespace valtronics::net
