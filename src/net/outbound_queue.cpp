// Outbound queue: framing, gathering and conflation. Conflated telemetry is re-serialized per
// connection, which is fine: it only happens for a client that is already behind.
#include "net/outbound_queue.hpp"

#include "protocol/serialize.hpp"

namespace valtronics::net {

using protocol::ws::Opcode;

OutboundQueue::OutboundQueue(std::size_t max_bytes)
    : max_bytes_(max_bytes), soft_bytes_(max_bytes / 4 * 3) {}

void OutboundQueue::push(Bytes payload, Opcode opcode) {
  Frame f{std::move(payload), {}, 0, opcode == Opcode::text};
  f.header_len = static_cast<std::uint8_t>(
      protocol::ws::encode_header(f.header.data(), opcode, f.payload->size()));
  bytes_ += f.payload->size() + f.header_len;
  frames_.push_back(std::move(f));
}

bool OutboundQueue::push_reliable(Bytes payload, Opcode opcode) {
  if (bytes_ + payload->size() > max_bytes_) return false;
  push(std::move(payload), opcode);
  return true;
}

void OutboundQueue::push_telemetry(const Bytes& payload, std::int64_t device,
                                   std::span<const hub::MetricReading> readings) {
  if (conflated_.empty() && bytes_ + payload->size() <= soft_bytes_) {
    push(payload, Opcode::text);
    return;
  }
  auto& latest = conflated_[device];
  for (const auto& r : readings) latest.insert_or_assign(r.name, r);
  ++conflated_total_;
}

void OutboundQueue::push_system(const Bytes& payload) {
  if (!conflated_system_ && bytes_ + payload->size() <= soft_bytes_) {
    push(payload, Opcode::text);
    return;
  }
  conflated_system_ = payload;
  ++conflated_total_;
}

std::size_t OutboundQueue::gather(std::vector<boost::asio::const_buffer>& out,
                                  std::size_t max_frames) {
  std::size_t n = 0;
  for (auto it = frames_.begin(); it != frames_.end() && n < max_frames; ++it, ++n) {
    out.emplace_back(it->header.data(), it->header_len);
    if (!it->payload->empty()) out.emplace_back(it->payload->data(), it->payload->size());
  }
  return n;
}

std::size_t OutboundQueue::consumed(std::size_t frames) {
  std::size_t data = 0;
  for (; frames > 0 && !frames_.empty(); --frames) {
    auto& f = frames_.front();
    bytes_ -= f.payload->size() + f.header_len;
    data += f.data ? 1 : 0;
    frames_.pop_front();
  }
  if (bytes_ <= soft_bytes_ / 2) refill();
  return data;
}

void OutboundQueue::refill() {
  while (!conflated_.empty() && bytes_ <= soft_bytes_ / 2) {
    auto node = conflated_.extract(conflated_.begin());
    std::vector<hub::MetricReading> readings;
    readings.reserve(node.mapped().size());
    for (auto& [name, r] : node.mapped()) readings.push_back(std::move(r));
    push(std::make_shared<const std::string>(protocol::serialize_telemetry(node.key(), readings)),
         Opcode::text);
  }
  if (conflated_system_ && conflated_.empty() && bytes_ <= soft_bytes_ / 2) {
    push(std::move(conflated_system_), Opcode::text);
    conflated_system_.reset();
  }
}

}  // namespace valtronics::net
