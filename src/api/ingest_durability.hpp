// What an ingest request asks of durability, and what the store allows. By default a reading is
// answered 202 once it is validated and applied, before its commit (a crash of the process can
// lose the last fraction of a second of readings); `?sync=true` answers only after the commit.
// While the database refuses writes (disk full, locked, I/O error) ingest is refused with 503
// STORAGE_UNAVAILABLE and Retry-After, so readings are never acknowledged into a queue that
// cannot drain. docs/rest.md "Durability of readings" is the contract.
#pragma once

#include <optional>
#include <vector>

#include "api/call.hpp"
#include "model/events.hpp"

namespace valtronics::api::ingest {

enum class Ack {
  accepted,   // 202 {"accepted": n} at once (the default)
  committed,  // 200 {"accepted": n, "stored": n} after the commit (?sync=true)
};

// The `sync` query parameter: absent, "false" or "0": accepted; "true" or "1": committed.
// Anything else (or a malformed query) answers 400 VALIDATION_ERROR naming `sync` and returns
// nullopt.
std::optional<Ack> requested_ack(Call& c);

// Seconds a client is told to wait (Retry-After) while the storage is unavailable: the store
// writer retries every second, and an attempt on a locked database waits out the 5 s busy
// timeout, so recovery is noticed within about this long.
inline constexpr int kStorageRetryAfterSeconds = 5;

// True when the store takes writes. Otherwise answers 503 STORAGE_UNAVAILABLE with Retry-After
// and details.reason (SQLite's message), and returns false.
bool storage_writable(Call& c);

// Applies `events` and answers 200 {"accepted": n, "stored": n} once they are committed, or
// 503 SERVICE_UNAVAILABLE if the write failed for good.
void ingest_committed(Call& c, std::vector<model::TelemetryEvent> events);

}  // namespace valtronics::api::ingest
