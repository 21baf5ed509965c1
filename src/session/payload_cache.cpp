// A small per-thread cache of encoded payloads: a ring of the last kEntries.
#include "session/payload_cache.hpp"

#include <boost/json/parse.hpp>
#include <array>
#include <string_view>

#include "codec/msgpack_json.hpp"
#include "protocol/permessage_deflate.hpp"

namespace valtronics::session::payload_cache {

namespace {

// One fan-out of an update to the thread's connections hits the same entry back to back; a
// few dozen entries also cover a burst of updates queued for slow readers.
constexpr std::size_t kEntries = 64;

struct Entry {
  std::weak_ptr<const std::string> source;
  const std::string* address = nullptr;
  Form form;
  Bytes encoded;
};

struct Ring {
  std::array<Entry, kEntries> entries;
  std::size_t next = 0;
};

std::string to_msgpack(const std::string& json) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(json, ec);
  // Every payload is JSON the server wrote; were one not, it would still go out, as a string.
  return ec ? codec::to_msgpack(boost::json::value(json)) : codec::to_msgpack(v);
}

Bytes make(const Bytes& payload, Form form) {
  if (form.window_bits == 0)  // MessagePack (an uncompressed JSON payload is the payload)
    return std::make_shared<const std::string>(to_msgpack(*payload));
  std::string_view bytes(*payload);
  Bytes msgpack;
  if (form.msgpack) {
    msgpack = encoded(payload, Form{.msgpack = true});
    bytes = *msgpack;
    if (form.open_end) {
      if (auto head = codec::map_head(bytes)) bytes.remove_prefix(head->size);
    }
  } else if (form.open_end && !bytes.empty()) {
    bytes.remove_suffix(1);
  }
  return std::make_shared<const std::string>(
      protocol::deflate::compress(bytes, form.window_bits, form.open_end));
}

}  // namespace

Bytes encoded(const Bytes& payload, Form form) {
  thread_local Ring ring;
  for (auto& e : ring.entries) {
    if (e.address == payload.get() && e.form == form && !e.source.expired()) return e.encoded;
  }
  auto out = make(payload, form);
  Entry& e = ring.entries[ring.next];
  ring.next = (ring.next + 1) % kEntries;
  e = Entry{payload, payload.get(), form, out};
  return out;
}

}  // namespace valtronics::session::payload_cache
