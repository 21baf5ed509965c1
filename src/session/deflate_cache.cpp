// A small per-thread cache of compressed payloads: a ring of the last kEntries.
#include "session/deflate_cache.hpp"

#include <array>
#include <string_view>

#include "protocol/permessage_deflate.hpp"

namespace valtronics::session::deflate_cache {

namespace {

// One fan-out of an update to the thread's connections hits the same entry back to back; a
// few dozen entries also cover a burst of updates queued for slow readers.
constexpr std::size_t kEntries = 64;

struct Entry {
  std::weak_ptr<const std::string> source;
  const std::string* address = nullptr;
  int window_bits = 0;
  bool open_end = false;
  Bytes compressed;
};

struct Ring {
  std::array<Entry, kEntries> entries;
  std::size_t next = 0;
};

}  // namespace

Bytes compressed(const Bytes& payload, int window_bits, bool open_end) {
  thread_local Ring ring;
  for (auto& e : ring.entries) {
    if (e.address == payload.get() && e.window_bits == window_bits && e.open_end == open_end &&
        !e.source.expired())
      return e.compressed;
  }
  std::string_view text(*payload);
  if (open_end && !text.empty()) text.remove_suffix(1);
  auto out = std::make_shared<const std::string>(
      protocol::deflate::compress(text, window_bits, open_end));
  Entry& e = ring.entries[ring.next];
  ring.next = (ring.next + 1) % kEntries;
  e = Entry{payload, payload.get(), window_bits, open_end, out};
  return out;
}

}  // namespace valtronics::session::deflate_cache
