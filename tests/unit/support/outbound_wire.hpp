// What an OutboundQueue puts on the wire, as a client reads it: every queued frame gathered
// and written whole, then decoded (frame headers, inflated when compressed). As in the server,
// gathered buffers are used before anything else is queued (a push may move the frames that
// hold the headers).
#pragma once

#include <gtest/gtest.h>
#include <sys/uio.h>

#include <string>
#include <vector>

#include "config/limits.hpp"
#include "protocol/permessage_deflate.hpp"
#include "session/outbound_queue.hpp"
#include "support/session_harness.hpp"

namespace valtronics::session::test {

// The server's frames in `wire`, as a client gets them: compressed ones inflated.
inline std::vector<Frame> decode(const std::string& wire) {
  auto frames = decode_server_frames(wire, true);
  for (auto& f : frames) {
    if (!f.compressed) continue;
    auto inflated = protocol::deflate::decompress(f.payload, 1 << 20);
    EXPECT_TRUE(inflated) << "not valid DEFLATE";
    f.payload = inflated.value_or("");
  }
  return frames;
}

inline std::string gather_all(OutboundQueue& q, std::size_t* frames = nullptr) {
  std::vector<iovec> bufs;
  const auto n = q.gather(bufs, limits::kMaxFramesPerWrite);
  if (frames) *frames = n;
  std::string wire;
  for (auto& b : bufs) wire.append(static_cast<const char*>(b.iov_base), b.iov_len);
  return wire;
}

// Everything queued, written whole write after write, as the client receives it.
inline std::string drain(OutboundQueue& q) {
  std::string wire;
  while (!q.empty()) {
    std::size_t n = 0;
    wire += gather_all(q, &n);
    q.consumed(n);
  }
  return wire;
}

}  // namespace valtronics::session::test
