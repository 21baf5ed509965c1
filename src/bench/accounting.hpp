// Bookkeeping of the fanout scenario that does no I/O, kept apart so that it can be unit tested:
//   InFlight        a publisher connection's pipelined HTTP requests, matched to replies in FIFO
//                   order (HTTP/1.1 answers requests on one connection in the order they came).
//   LastAccepted    per device, the stamp of the last reading the server accepted.
//   SubscriberTally what one subscriber received: frames, conflated frames and the updates they
//                   stand for, its final value.
//   tally_delivery  expected vs received for one subscriber: loss, excess, final value match.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace valtronics::bench {

class InFlight {
 public:
  struct Request {
    std::uint64_t k = 0;      // batch number
    std::int64_t stamp = 0;   // its readings' bench_seq
    std::chrono::steady_clock::time_point sent_at{};
  };
  explicit InFlight(int depth = 1) : depth_(depth < 1 ? 1 : depth) {}
  bool has_room() const { return requests_.size() < static_cast<std::size_t>(depth_); }
  bool empty() const { return requests_.empty(); }
  std::size_t size() const { return requests_.size(); }
  void sent(Request r) { requests_.push_back(r); }
  // The request a reply answers: the oldest outstanding one (none: a reply nobody asked for).
  std::optional<Request> answered() {
    if (requests_.empty()) return std::nullopt;
    Request r = requests_.front();
    requests_.pop_front();
    return r;
  }
  void clear() { requests_.clear(); }  // the connection broke: the replies will never come

 private:
  int depth_;
  std::deque<Request> requests_;
};

// Stamps are the readings' scheduled send times (µs since the epoch), increasing with the
// schedule; "last" is the greatest stamp accepted, whatever order the replies came in.
class LastAccepted {
 public:
  explicit LastAccepted(int devices) : stamp_(static_cast<std::size_t>(devices) + 1) {}
  void accepted(int device, std::int64_t stamp) {
    auto& s = stamp_[static_cast<std::size_t>(device)];
    if (!s || stamp > *s) s = stamp;
  }
  std::optional<std::int64_t> of(int device) const {
    return stamp_[static_cast<std::size_t>(device)];
  }

 private:
  std::vector<std::optional<std::int64_t>> stamp_;  // by device (index 0 unused)
};

struct SubscriberTally {
  std::uint64_t frames = 0;             // telemetry updates received (conflated or not)
  std::uint64_t conflated_frames = 0;   // of which carried "conflated":n
  std::uint64_t conflated_updates = 0;  // the n of those frames, summed
  std::optional<std::int64_t> last_stamp;  // bench_seq of the last update received

  void received(std::int64_t stamp, std::uint64_t stands_for) {
    ++frames;
    if (stands_for > 1) {
      ++conflated_frames;
      conflated_updates += stands_for;
    }
    last_stamp = stamp;
  }
  // Updates received or covered by a conflated frame (which stands for n of them).
  std::uint64_t covered() const { return frames - conflated_frames + conflated_updates; }
};

struct DeliveryTally {
  std::uint64_t loss = 0, excess = 0;
  bool final_mismatch = false;
};
// One subscriber of a device whose server accepted `expected` readings, the last stamped
// `last_accepted`: loss counts the readings neither delivered nor covered by a conflated frame;
// the final value must be the last accepted one (nothing accepted: nothing to check).
inline DeliveryTally tally_delivery(const SubscriberTally& s, std::uint64_t expected,
                                    std::optional<std::int64_t> last_accepted) {
  DeliveryTally t;
  std::uint64_t covered = s.covered();
  if (covered < expected) t.loss = expected - covered;
  else t.excess = covered - expected;
  t.final_mismatch = last_accepted && s.last_stamp != last_accepted;
  return t;
}

}  // namespace valtronics::bench
