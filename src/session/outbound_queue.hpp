// A connection's bounded outbound queue. Frames are shared payloads (serialized once by the hub)
// plus a small per-frame header, gathered into one socket write. Memory is bounded whatever the
// client does: past a soft limit, telemetry and system updates are conflated (latest value per
// device and metric, latest system sample) and sent when the queue drains; reliable frames
// (replies, alerts, device status, control) are refused past the hard limit so the session can
// close with 4009 instead of dropping them silently (nats-server's slow-consumer cap, valkey's
// client-output-buffer-limit).
#pragma once

#include <array>
#include <sys/uio.h>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/reading.hpp"
#include "protocol/ws_frame.hpp"

namespace valtronics::session {

class OutboundQueue {
 public:
  using Bytes = std::shared_ptr<const std::string>;

  // `max_bytes`: hard limit on queued payload bytes. Telemetry conflates beyond 3/4 of it, so
  // alerts and replies keep a quarter of the budget to themselves.
  explicit OutboundQueue(std::size_t max_bytes);

  // permessage-deflate was negotiated (issue 15): text frames of at least `min_bytes` go out
  // compressed with `window_bits`, the rest as they are (a few bytes gain nothing).
  void compress_with(int window_bits, std::size_t min_bytes) {
    deflate_bits_ = window_bits;
    deflate_min_bytes_ = min_bytes;
  }

  // The client asked for coalesced frames (issue 15, `hello` with "coalesce"): text messages
  // queued one after another and not yet handed to the socket leave as one frame holding a JSON
  // array of them, at most limits::kMaxCoalescedMessages and kMaxCoalescedBytes. The messages'
  // bytes stay shared: the array's brackets and commas are iovecs of their own (stored DEFLATE
  // blocks when compressed), and only the group's first frame header changes as it grows.
  void coalesce() { coalesce_ = true; }

  // The handshake chose the `valtronics.msgpack` subprotocol (issue 15): data messages leave
  // as binary frames holding their MessagePack form, made once per update and thread
  // (session/payload_cache.hpp); a connection's own entries (`seq`...) follow the shared map's
  // entries, and its map header, counting them, replaces the shared one. Coalesced, the
  // messages are the elements of one MessagePack array.
  void encode_msgpack() { msgpack_ = true; }

  // Replies and control frames. False (nothing queued) past the hard limit. A control frame
  // counts limits::kQueuedControlFrameBytes plus its payload, what it really costs, not its
  // wire size.
  bool push_reliable(Bytes payload, protocol::ws::Opcode opcode = protocol::ws::Opcode::text);

  // An update that must not be dropped (alert, device status, snapshot, replay), sent with
  // `,"seq":N` added to the shared payload, and for an acknowledged alert (issue 15)
  // `,"delivery_id":D` (plus `,"redelivered":true` when it is sent again). False (nothing
  // queued) past the hard limit.
  bool push_update(const Bytes& payload, std::uint64_t seq, std::uint64_t delivery_id = 0,
                   bool redelivered = false);

  // The close frame: queued whatever the budget (it is the last frame a session queues).
  void push_final(Bytes payload, protocol::ws::Opcode opcode) { push(std::move(payload), opcode); }

  // A telemetry update whose serialization is `payload`, carrying `readings` of `device` (already
  // restricted to what this connection receives), numbered `seq`. Queued as is below the soft
  // limit; merged into the conflation table otherwise (or while the table holds anything, so
  // nothing older overtakes a newer value). A conflated update goes out with the seq of the
  // newest update merged into it and `"conflated":n`, the number of updates it stands for, so
  // the client knows why seq jumped. Conflated updates leave in seq order. `merged` > 1: the
  // update already stands for that many (the hub's shard conflated them, hub/conflation.hpp)
  // and goes out with `"conflated":merged`.
  void push_telemetry(const Bytes& payload, std::int64_t device,
                      std::span<const model::MetricReading> readings, std::uint64_t seq,
                      std::uint64_t merged = 1);

  // A system update: queued below the soft limit, else it replaces any conflated system update
  // (sent with its seq and `"conflated":n`).
  void push_system(const Bytes& payload, std::uint64_t seq);

  // Appends up to `max_frames` frames (header, payload and suffix buffers) to `out`, ready for
  // sendmsg, the first one from where an earlier partial write stopped; returns how many.
  std::size_t gather(std::vector<iovec>& out, std::size_t max_frames);

  // The first `frames` frames were written: drops them, and once the queue is below half the
  // soft limit moves conflated updates back in. Returns how many data (text) frames were sent.
  std::size_t consumed(std::size_t frames);
  // `n` bytes of the gathered frames were written (a non-blocking write may stop anywhere):
  // drops the frames written whole and remembers where the next one stops. Returns how many
  // data frames were completed.
  std::size_t consumed_bytes(std::size_t n);

  bool empty() const { return head_ == frames_.size(); }
  // What the queued frames count against max_bytes (see Frame::cost).
  std::size_t queued_bytes() const { return bytes_; }
  std::size_t pending_conflated() const {
    return conflation_ ? conflation_->telemetry.size() + (conflation_->system ? 1 : 0) : 0;
  }
  std::uint64_t conflated_total() const { return conflated_total_; }  // updates merged so far

 private:
  // What follows a message in a coalesced frame: nothing (a message of its own, or the last
  // of a MessagePack array), a JSON array's ',' or ']', or between compressed MessagePack
  // messages what completes the block the first one left open. The array's opening ('[' or a
  // MessagePack array header) is part of the group's first header.
  enum class After : std::uint8_t { none, comma, close };
  struct Frame {
    Bytes payload;
    // The WebSocket header, and in a coalesced group's first frame the array's opening.
    std::array<unsigned char, 18> header;
    std::uint8_t header_len;  // 0 for a coalesced message after the first: its group has one
    bool data;
    bool compressed = false;
    bool msgpack = false;  // a MessagePack message (a binary frame)
    After after = After::none;
    // Updates: the payload's closing '}' is replaced by the suffix (`,"seq":N}`, or with
    // `,"conflated":M` or `,"delivery_id":D,"redelivered":true`), per connection. With
    // MessagePack the same entries follow the shared ones, and the buffer first holds the
    // `lead_len` bytes of this connection's map header, which counts them, sent instead of the
    // payload's first `skip` bytes (the shared map header). Compressed (permessage-deflate), the
    // payload is the shared compressed form of all but that brace (or map header) and the lead
    // and suffix stored DEFLATE blocks of those bytes (protocol/permessage_deflate.hpp).
    std::uint8_t lead_len = 0, skip = 0, suffix_len = 0;
    bool drop_last = false;  // the payload's last byte is not sent (the suffix replaces it)
    std::array<char, 96> suffix;
    std::size_t body_size() const {  // the message's bytes, without header or separators
      return lead_len + payload->size() - skip - (drop_last ? 1 : 0) + suffix_len;
    }
    std::size_t size() const {
      return header_len + body_size() + separator(after, compressed, msgpack).size();
    }
    // What the frame counts against max_bytes: its wire size for data frames (their payload,
    // shared with other connections, dominates); for a control frame (pong, ping, close) its
    // real heap cost, far above its few wire bytes (limits::kQueuedControlFrameBytes plus its
    // payload).
    std::size_t cost() const;
  };
  struct Conflated {
    std::map<std::string, model::MetricReading> latest;
    std::uint64_t seq = 0;       // newest merged update
    std::uint64_t merged = 0;    // updates it stands for
  };
  void push(Bytes payload, protocol::ws::Opcode opcode, std::uint64_t seq = 0,
            std::uint64_t merged = 0, std::uint64_t delivery_id = 0, bool redelivered = false);
  // Makes `f` (a text message) the next one of the open coalesced group when it may join:
  // true when it did (its header is then the group's, kept in the group's first frame).
  bool join_group(Frame& f);
  // The bytes after a message (see After), as a stored DEFLATE block when compressed.
  static std::string_view separator(After a, bool compressed, bool msgpack);
  // Writes the opening of a coalesced array of `members` messages to `out` (at most 8
  // bytes: a JSON '[' or a MessagePack array header, as a stored DEFLATE block when
  // compressed); returns its size, 0 for a lone message (no array).
  std::size_t opening(std::size_t members, bool compressed, unsigned char* out) const;
  // This connection's own fields of an update (`seq`...): JSON text ending with '}' into
  // f.suffix (the payload's '}' dropped), or MessagePack entries with the map header that
  // counts them into f.lead; either as stored DEFLATE blocks when compressed. Sets
  // f.payload to the shared form to send.
  void encode_json(Frame& f, bool compress, std::uint64_t seq, std::uint64_t merged,
                   std::uint64_t delivery_id, bool redelivered);
  void encode_msgpack(Frame& f, std::uint64_t seq, std::uint64_t merged,
                      std::uint64_t delivery_id, bool redelivered);
  void refill();

  std::size_t max_bytes_, soft_bytes_;
  int deflate_bits_ = 0;  // 0: no permessage-deflate
  std::size_t deflate_min_bytes_ = 0;
  bool coalesce_ = false;
  bool msgpack_ = false;
  // The coalesced group new messages may join: its first frame's index in frames_ (npos: none),
  // its members and the payload length its header announces. A group is closed to newcomers
  // once any of it was gathered: a write may stop half way (a full socket buffer), and then
  // its header, with the length, is already on the wire.
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t group_first_ = npos;
  std::size_t group_members_ = 0;
  std::size_t group_len_ = 0;
  // A vector used as a FIFO (frames_[head_] is the front): no allocation at all while empty,
  // unlike std::deque, which allocates its map and a node up front for every connection.
  std::vector<Frame> frames_;
  std::size_t head_ = 0;
  std::size_t bytes_ = 0;
  std::size_t front_offset_ = 0;  // bytes of frames_.front() already written
  // What waits for room, made by the first conflation and dropped once drained: only slow
  // consumers ever need it, so an idle connection does not carry its ~120 bytes.
  struct Conflation {
    std::map<std::int64_t, Conflated> telemetry;
    std::map<std::uint64_t, std::int64_t> by_seq;  // refill order
    Bytes system;
    std::uint64_t system_seq = 0, system_merged = 0;
  };
  Conflation& conflation() {
    if (!conflation_) conflation_ = std::make_unique<Conflation>();
    return *conflation_;
  }
  std::unique_ptr<Conflation> conflation_;
  std::uint64_t conflated_total_ = 0;
};

}  // namespace valtronics::session
