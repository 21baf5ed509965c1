// `valtronics bench floor`: what the kernel alone charges for a fan-out, with no server at all.
// N loopback TCP connections to a listener of the bench's own; a writer thread sends one
// WebSocket text frame of B bytes (or K frames gathered in one write) to each of the N sockets
// per round, as the server's flush does (sendmsg, MSG_DONTWAIT, TCP_NODELAY), or submits the N
// sends as one batch of io_uring SQEs (--io-uring). The receiving ends are drained by a reader
// in a child process (so that each process holds N sockets, not 2N: 10 000 pairs fit under a
// 20 000-file limit), with epoll; the next round starts once the reader has drained the last,
// so every write finds an empty socket buffer, as with subscribers that keep up.
// Reports the writer thread's CPU time and wall time per write, and the wall time of the N
// writes of a round (p50/p99/max over rounds): the floor every fan-out figure is compared with.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/scenarios.hpp"

namespace valtronics::bench {

Report run_floor(const Options& o);

// Nearest-rank percentile of `sorted` (ascending, non-empty); p in 0..100.
double percentile_of_sorted(const std::vector<double>& sorted, double p);

// The header of an unmasked server text frame (FIN set) carrying `payload_bytes`: 2, 4 or 10
// bytes.
std::vector<unsigned char> server_text_header(std::uint64_t payload_bytes);

}  // namespace valtronics::bench
