// Outbound queue: framing, per-connection seq suffixes, gathering and conflation. Conflated
// telemetry is re-serialized per connection, which is fine: it only happens for a client that is
// already behind.
#include "session/outbound_queue.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "config/limits.hpp"
#include "metrics/counters.hpp"
#include "protocol/permessage_deflate.hpp"
#include "protocol/serialize.hpp"
#include "codec/msgpack_json.hpp"
#include "session/payload_cache.hpp"

namespace valtronics::session {

using protocol::ws::Opcode;

std::size_t OutboundQueue::Frame::cost() const {
  return data ? size() : limits::kQueuedControlFrameBytes + payload->size();
}

OutboundQueue::OutboundQueue(std::size_t max_bytes)
    : max_bytes_(max_bytes), soft_bytes_(max_bytes / 4 * 3) {}

void OutboundQueue::push(Bytes payload, Opcode opcode, std::uint64_t seq, std::uint64_t merged,
                         std::uint64_t delivery_id, bool redelivered) {
  Frame f{};
  f.payload = std::move(payload);
  f.data = opcode == Opcode::text;
  // Only updates have a seq, and every update is a JSON object (it ends with '}').
  if (f.payload->empty() || f.payload->back() != '}') seq = 0;
  if (f.data && msgpack_) {
    f.msgpack = true;
    opcode = Opcode::binary;
    encode_msgpack(f, seq, merged, delivery_id, redelivered);
  } else {
    const bool compress =
        deflate_bits_ != 0 && f.data && f.payload->size() >= deflate_min_bytes_;
    encode_json(f, compress, seq, merged, delivery_id, redelivered);
  }
  if (coalesce_ && f.data && join_group(f)) {
    bytes_ += f.cost();
    frames_.push_back(std::move(f));
    return;
  }
  const std::size_t len = f.body_size();
  f.header_len = static_cast<std::uint8_t>(
      protocol::ws::encode_header(f.header.data(), opcode, len, f.compressed));
  // A data message opens the group the next ones may join; anything else closes it.
  if (coalesce_ && f.data) {
    group_first_ = frames_.size();
    group_members_ = 1;
    group_len_ = len;
  } else {
    group_first_ = npos;
  }
  bytes_ += f.cost();
  frames_.push_back(std::move(f));
}

void OutboundQueue::encode_json(Frame& f, bool compress, std::uint64_t seq,
                                std::uint64_t merged, std::uint64_t delivery_id,
                                bool redelivered) {
  // `,"seq":N}` (with `,"conflated":M` or `,"delivery_id":D...`), written where the frame keeps
  // it; to_chars: this runs once per delivery.
  std::size_t suffix_n = 0;
  if (seq != 0) {
    char* p = f.suffix.data();
    char* const end = p + f.suffix.size();
    auto put = [&](std::string_view s) { p = std::copy(s.begin(), s.end(), p); };
    put(",\"seq\":");
    p = std::to_chars(p, end, seq).ptr;
    if (merged > 1) {
      put(",\"conflated\":");
      p = std::to_chars(p, end, merged).ptr;
    }
    if (delivery_id != 0) {
      put(",\"delivery_id\":");
      p = std::to_chars(p, end, delivery_id).ptr;
      if (redelivered) put(",\"redelivered\":true");
    }
    *p++ = '}';
    suffix_n = static_cast<std::size_t>(p - f.suffix.data());
  }
  f.compressed = compress;
  if (compress) {
    // The shared payload's compressed form (once per thread), then this connection's suffix,
    // rewritten in place as a stored block (only connections that negotiated compression).
    f.payload = payload_cache::encoded(
        f.payload, {.window_bits = deflate_bits_, .open_end = suffix_n > 0});
    if (suffix_n > 0) {
      std::array<char, sizeof(f.suffix)> raw;
      std::copy_n(f.suffix.data(), suffix_n, raw.data());
      f.suffix_len = static_cast<std::uint8_t>(protocol::deflate::stored_tail(
          std::string_view(raw.data(), suffix_n), f.suffix.data()));
    }
  } else if (suffix_n > 0) {
    f.suffix_len = static_cast<std::uint8_t>(suffix_n);
    f.drop_last = true;
  }
}

void OutboundQueue::encode_msgpack(Frame& f, std::uint64_t seq, std::uint64_t merged,
                                   std::uint64_t delivery_id, bool redelivered) {
  const Bytes json = f.payload;
  f.payload = payload_cache::encoded(json, {.msgpack = true});
  f.compressed = deflate_bits_ != 0 && f.payload->size() >= deflate_min_bytes_;
  const auto head = seq != 0 ? codec::map_head(*f.payload) : std::nullopt;
  if (!head) {
    if (f.compressed)
      f.payload = payload_cache::encoded(json, {.msgpack = true, .window_bits = deflate_bits_});
    return;
  }
  // This connection's entries, after the shared ones, and the map header that counts them.
  std::array<char, sizeof(f.suffix)> entries;
  char* p = entries.data();
  std::uint32_t added = 1;
  p = codec::put_entry(p, "seq", seq);
  if (merged > 1) {
    p = codec::put_entry(p, "conflated", merged);
    ++added;
  }
  if (delivery_id != 0) {
    p = codec::put_entry(p, "delivery_id", delivery_id);
    ++added;
    if (redelivered) {
      p = codec::put_entry(p, "redelivered", true);
      ++added;
    }
  }
  const std::string_view tail(entries.data(), static_cast<std::size_t>(p - entries.data()));
  std::array<char, 5> map_head;
  const std::string_view lead(map_head.data(),
                              codec::put_map_head(head->count + added, map_head.data()));
  char* const lead_at = f.suffix.data();
  if (f.compressed) {
    f.payload = payload_cache::encoded(
        json, {.msgpack = true, .window_bits = deflate_bits_, .open_end = true});
    f.lead_len = static_cast<std::uint8_t>(protocol::deflate::stored_block(lead, lead_at));
    f.suffix_len =
        static_cast<std::uint8_t>(protocol::deflate::stored_tail(tail, lead_at + f.lead_len));
  } else {
    f.skip = static_cast<std::uint8_t>(head->size);
    f.lead_len = static_cast<std::uint8_t>(std::copy(lead.begin(), lead.end(), lead_at) - lead_at);
    char* const tail_at = lead_at + f.lead_len;
    f.suffix_len =
        static_cast<std::uint8_t>(std::copy(tail.begin(), tail.end(), tail_at) - tail_at);
  }
}

std::string_view OutboundQueue::separator(After a, bool compressed, bool msgpack) {
  using namespace std::string_view_literals;
  // Compressed, a message ends with a stored block's header byte, its LEN and NLEN left to what
  // follows. The ',' completes that block with its one byte, byte-aligned for the next message's
  // own blocks; the ']' does too, then opens the empty block whose LEN and NLEN the receiver
  // appends (0x00 0x00 0xff 0xff), as a message's end does. MessagePack has no separators: a
  // compressed message's open block is completed empty, and the last one's is left to the
  // receiver.
  switch (a) {
    case After::none: return {};
    case After::comma:
      if (msgpack) return compressed ? "\x00\x00\xff\xff"sv : ""sv;
      return compressed ? "\x01\x00\xfe\xff,"sv : ","sv;
    case After::close:
      if (msgpack) return {};
      return compressed ? "\x01\x00\xfe\xff]\x00"sv : "]"sv;
  }
  return {};
}

std::size_t OutboundQueue::opening(std::size_t members, bool compressed,
                                   unsigned char* out) const {
  if (members < 2) return 0;
  char head[5];
  const std::string_view open =
      msgpack_ ? std::string_view(head, codec::put_array_head(
                                            static_cast<std::uint32_t>(members), head))
               : std::string_view("[");
  char* to = reinterpret_cast<char*>(out);
  // Compressed, the opening is a whole stored block before the first message's own blocks.
  if (compressed) return protocol::deflate::stored_block(open, to);
  std::copy(open.begin(), open.end(), to);
  return open.size();
}

bool OutboundQueue::join_group(Frame& f) {
  if (group_first_ == npos || group_members_ >= limits::kMaxCoalescedMessages) return false;
  Frame& first = frames_[group_first_];
  if (first.compressed != f.compressed) return false;  // RSV1 is the whole frame's
  const bool c = f.compressed, m = f.msgpack;
  // The last member's ']' moves after `f` and a ',' comes between them; the opening counts one
  // more member (a second member brings it).
  std::array<unsigned char, 8> was, open;
  std::size_t len = group_len_ - opening(group_members_, c, was.data()) +
                    opening(group_members_ + 1, c, open.data()) +
                    separator(After::comma, c, m).size() + f.body_size();
  if (group_members_ == 1) len += separator(After::close, c, m).size();
  if (len > limits::kMaxCoalescedBytes) return false;
  Frame& last = frames_.back();
  bytes_ -= first.cost();
  if (&last != &first) bytes_ -= last.cost();
  last.after = After::comma;
  const std::size_t ws = protocol::ws::encode_header(
      first.header.data(), m ? Opcode::binary : Opcode::text, len, c);
  const std::size_t open_len = opening(group_members_ + 1, c, first.header.data() + ws);
  first.header_len = static_cast<std::uint8_t>(ws + open_len);
  bytes_ += first.cost();
  if (&last != &first) bytes_ += last.cost();
  f.header_len = 0;
  f.after = After::close;
  group_len_ = len;
  ++group_members_;
  return true;
}

bool OutboundQueue::push_reliable(Bytes payload, Opcode opcode) {
  const std::size_t cost = payload->size() +
                           (opcode == Opcode::text ? 0 : limits::kQueuedControlFrameBytes);
  if (bytes_ + cost > max_bytes_) return false;
  push(std::move(payload), opcode);
  return true;
}

bool OutboundQueue::push_update(const Bytes& payload, std::uint64_t seq,
                                std::uint64_t delivery_id, bool redelivered) {
  if (bytes_ + payload->size() > max_bytes_) return false;
  push(payload, Opcode::text, seq, 0, delivery_id, redelivered);
  return true;
}

void OutboundQueue::push_telemetry(const Bytes& payload, std::int64_t device,
                                   std::span<const model::MetricReading> readings, std::uint64_t seq,
                                   std::uint64_t merged) {
  if ((!conflation_ || conflation_->telemetry.empty()) && bytes_ + payload->size() <= soft_bytes_) {
    push(payload, Opcode::text, seq, merged);
    return;
  }
  auto& cf = conflation();
  auto& c = cf.telemetry[device];
  for (const auto& r : readings) c.latest.insert_or_assign(r.name, r);
  if (c.seq) cf.by_seq.erase(c.seq);
  c.seq = seq;
  c.merged += merged;
  cf.by_seq[seq] = device;
  conflated_total_ += merged;
  metrics::add(metrics::slot::queue_conflated, merged);
}

void OutboundQueue::push_system(const Bytes& payload, std::uint64_t seq) {
  if ((!conflation_ || !conflation_->system) && bytes_ + payload->size() <= soft_bytes_) {
    push(payload, Opcode::text, seq);
    return;
  }
  auto& cf = conflation();
  cf.system = payload;
  cf.system_seq = seq;
  ++cf.system_merged;
  ++conflated_total_;
  metrics::add(metrics::slot::queue_conflated);
}

std::size_t OutboundQueue::gather(std::vector<iovec>& out, std::size_t max_frames) {
  std::size_t n = 0;
  std::size_t skip = front_offset_;
  auto add = [&](const void* data, std::size_t size) {
    if (skip >= size) {
      skip -= size;
      return;
    }
    out.push_back({const_cast<char*>(static_cast<const char*>(data)) + skip, size - skip});
    skip = 0;
  };
  // At most five buffers a frame (header with any opening, lead, message, suffix, ',' or
  // ']'), within IOV_MAX.
  const std::size_t max_iov = out.size() + limits::kMaxIovecsPerWrite - 5;
  for (auto it = frames_.begin() + static_cast<std::ptrdiff_t>(head_);
       it != frames_.end() && n < max_frames && out.size() <= max_iov; ++it, ++n) {
    add(it->header.data(), it->header_len);
    if (it->lead_len) add(it->suffix.data(), it->lead_len);
    add(it->payload->data() + it->skip,
        it->payload->size() - it->skip - (it->drop_last ? 1 : 0));
    if (it->suffix_len) add(it->suffix.data() + it->lead_len, it->suffix_len);
    const auto after = separator(it->after, it->compressed, it->msgpack);
    if (!after.empty()) add(after.data(), after.size());
  }
  // Part of what was gathered may be written and the rest wait (a full socket buffer): the
  // open group's length is then on the wire, so it takes no one more.
  group_first_ = npos;
  return n;
}

std::size_t OutboundQueue::consumed(std::size_t frames) {
  std::size_t data = 0;
  for (; frames > 0 && !empty(); --frames) {
    auto& f = frames_[head_++];
    bytes_ -= f.cost();
    data += f.data ? 1 : 0;
    f.payload.reset();  // the shared bytes may go now, not when the slot is reused
  }
  if (empty()) {
    // Give the array back: most connections are idle most of the time, and an idle connection
    // should hold no outbound memory (the next burst allocates it again, once per burst).
    std::vector<Frame>().swap(frames_);
    head_ = 0;
    group_first_ = npos;
  } else if (head_ > 1024 && head_ * 2 > frames_.size()) {
    frames_.erase(frames_.begin(), frames_.begin() + static_cast<std::ptrdiff_t>(head_));
    if (group_first_ != npos) group_first_ -= head_;
    head_ = 0;
  }
  front_offset_ = 0;
  if (bytes_ <= soft_bytes_ / 2) refill();
  return data;
}

std::size_t OutboundQueue::consumed_bytes(std::size_t n) {
  std::size_t frames = 0;
  n += front_offset_;
  for (auto it = frames_.begin() + static_cast<std::ptrdiff_t>(head_);
       it != frames_.end() && n >= it->size(); ++it) {
    n -= it->size();
    ++frames;
  }
  const std::size_t data = consumed(frames);
  front_offset_ = empty() ? 0 : n;
  return data;
}

void OutboundQueue::refill() {
  if (!conflation_) return;
  auto& cf = *conflation_;
  while (!cf.by_seq.empty() && bytes_ <= soft_bytes_ / 2) {
    const auto [seq, device] = *cf.by_seq.begin();
    cf.by_seq.erase(cf.by_seq.begin());
    auto node = cf.telemetry.extract(device);
    std::vector<model::MetricReading> readings;
    readings.reserve(node.mapped().latest.size());
    for (auto& [name, r] : node.mapped().latest) readings.push_back(std::move(r));
    push(std::make_shared<const std::string>(protocol::serialize_telemetry(device, readings)),
         Opcode::text, seq, node.mapped().merged);
  }
  if (cf.system && cf.telemetry.empty() && bytes_ <= soft_bytes_ / 2) {
    push(std::move(cf.system), Opcode::text, cf.system_seq, cf.system_merged);
    cf.system.reset();
    cf.system_merged = 0;
  }
  if (cf.telemetry.empty() && !cf.system) conflation_.reset();
}

}  // namespace valtronics::session
