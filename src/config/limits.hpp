// Every hard-coded limit of the server, each with the reason for its value. Limits an operator
// may want to change are configuration keys instead (config.hpp: LimitsConfig and the sections
// beside it, documented in docs/configuration.md); these are the ones that protect the server's
// own structures or follow from a standard, so they are constants. docs/architecture.md lists
// both.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace valtronics::limits {



// ---- WebSocket connections (session/, net/ws_session) ----
// Frames per socket write: enough to amortize the syscall, few enough to bound the iovec array
// (three buffers a frame: header, payload, seq suffix; five in a coalesced frame, with its
// separators), which never exceeds IOV_MAX.
inline constexpr std::size_t kMaxFramesPerWrite = 256;
inline constexpr std::size_t kMaxIovecsPerWrite = 1024;  // IOV_MAX on Linux
// (issue 15) A coalesced frame holds at most this many messages and payload bytes: a client
// reading arrays never gets one larger than a burst's worth, far below its frame size limits.
inline constexpr std::size_t kMaxCoalescedMessages = 64;
inline constexpr std::size_t kMaxCoalescedBytes = 64 * 1024;
// Socket reads (of the thread's 64 KB buffer) one readiness of a connection gets before it
// waits behind the thread's other work: 256 KB at a time. Without it a flooder keeping its
// socket full held the I/O thread for as long as it sent (a bystander's reading on the same
// thread waited ~0.8 s behind a ping flood).
inline constexpr int kMaxReadsPerWakeup = 4;
// How long a thread's socket writes may wait for more frames (net/flusher.hpp): while its loop
// still has input to handle, events queued for it or ingest in flight whose events will reach
// it. Far below a dashboard's notice; long enough that under load each write carries the
// updates of many requests. Light load never waits for it: the loop is idle at once.
inline constexpr std::chrono::microseconds kMaxCorkDelay{1000};
// One turn of a flush writes sockets for at most this long, then lets the loop read (ingest
// keeps being read and answered during a 10 000-socket flush) and goes on.
inline constexpr std::chrono::microseconds kFlushSlice{1000};
// Loop turns a flush waits for HTTP sessions busy with a request (net/flusher.hpp): a pipelined
// request takes about four (answer written, head and body read, handed to the engine).
inline constexpr int kMaxBusyTurns = 32;
// Live events held per channel while a snapshot or replay is on its way; a client whose
// catch-up takes longer than this many events is told to reconnect (4009).
inline constexpr std::size_t kMaxHeldEvents = 100'000;
// Requests waiting for a catch-up to finish (the message rate limit keeps this far from reached).
inline constexpr std::size_t kMaxDeferredRequests = 1'000;
// (issue 15) Alerts sent with `ack` and not acknowledged yet, per connection: past this the
// client is not keeping up, and the connection closes with 4009 (it resumes with
// since_alert_id). An `ack` message names at most kMaxAckIds deliveries.
inline constexpr std::size_t kMaxUnackedAlerts = 1'000;
inline constexpr std::size_t kMaxAckIds = 1'000;
// (issue 15) A `hello` names at most this many features (there are few; the bound keeps a
// reply from echoing a flood).
inline constexpr std::size_t kMaxHelloFeatures = 16;
inline constexpr std::size_t kMaxHelloFeatureBytes = 64;
// How long a closing connection waits for the peer's close frame or EOF before dropping it.
inline constexpr auto kCloseLinger = std::chrono::seconds(2);
// Live state changes of alerts that no alerts subscription's cover explains, remembered per
// connection so that a replay does not send them again (older ones are forgotten first).
inline constexpr std::size_t kMaxOtherSentAlerts = 1'000;
// A buffer that once held a huge message would otherwise keep its capacity for the life of the
// connection; above this, an emptied read buffer gives its memory back.
inline constexpr std::size_t kFrameReaderRetainBytes = 256 * 1024;

// What one queued control frame (pong, ping, close) counts against limits.max_outbound_bytes,
// besides its payload: its real heap cost, not its 2-127 wire bytes. Measured with glibc's
// mallinfo2 over 16 384 queued pongs (tests/unit/session/outbound_queue_test.cpp,
// ControlFrameCostCoversTheHeap): 208 bytes each for an empty or short payload (the queue slot,
// 144 since issue 15 made room for a delivery id, a compressed suffix, a coalesced array's
// opening and a MessagePack map header, and the shared payload string with its control block,
// 64), 352 with 125 bytes of payload; right after the queue's array doubled, up to 144 more per
// frame. 232 = 208 plus part of that slack. Counting the
// wire size let a peer queue ~75 bytes of heap per byte counted (issue 10, defect 1).
inline constexpr std::size_t kQueuedControlFrameBytes = 232;

// ---- client messages (protocol/parse) ----
// Deep enough for every legal message (a batch element's filters sit at depth 4), shallow enough
// that a hostile frame cannot exhaust the stack or the allocator.
inline constexpr std::size_t kMaxJsonDepth = 32;
// Below this a telemetry `frequency` is indistinguishable from real-time and only costs timers.
inline constexpr auto kTelemetryMinFrequency = std::chrono::milliseconds(100);
// Client text echoed in error messages is cut so a reply stays small whatever was sent.
inline constexpr std::size_t kMaxEchoChars = 64;

// ---- stored text (api/ request bodies, engine/alert_text) ----
// Every string a client can store is bounded, in characters (UTF-8 code points), and refused
// beyond with 400 VALIDATION_ERROR naming the field (docs/rest.md, "Field bounds"). Alert
// frames are built from these parts only (engine/alert_text), which bounds the largest stored
// message (engine/message_bounds): limits.max_outbound_bytes is refused at start-up below it.
// Metric names: [a-z0-9_.-]{1,64} (the platform allows 100 characters; ours are stricter).
inline constexpr std::size_t kMaxMetricChars = 64;
// Units: the platform's 20 characters. A unit is copied into telemetry updates and alert text.
inline constexpr std::size_t kMaxUnitChars = 20;
// Device and rule names (a rule's name is its alerts' title).
inline constexpr std::size_t kMaxNameChars = 200;
// A device's location, manufacturer, model and firmware_version.
inline constexpr std::size_t kMaxDeviceTextChars = 200;
// A status report's reason (it becomes the offline alert's text when it takes a device offline).
inline constexpr std::size_t kMaxReasonChars = 1000;
// An alert's acknowledge/resolve notes (REST only; never in a WebSocket frame).
inline constexpr std::size_t kMaxNotesChars = 2000;
// A device's metadata object, serialized (REST only); also the bound after a status report
// merged its metadata in.
inline constexpr std::size_t kMaxMetadataBytes = 8 * 1024;

// ---- HTTP (net/http_session, api/) ----
// (The time allowed for a request's head and for its body are configuration keys:
// limits.header_timeout and limits.body_timeout.)
// Request line and headers; Beast's default (8 KB) is too tight for long bearer tokens.
inline constexpr std::size_t kMaxHttpHeaderBytes = 16 * 1024;
// Pagination: the default and largest page, and the largest page number (keeps offsets far
// from overflow).
inline constexpr std::size_t kDefaultPageSize = 20;
inline constexpr std::size_t kMaxPageSize = 100;
inline constexpr std::size_t kMaxPage = 1'000'000'000;

// ---- tokens and rates (auth/) ----
// Verified tokens remembered (a reconnect storm re-verifies nothing); bounded so that a stream
// of distinct tokens cannot grow it.
inline constexpr std::size_t kMaxCachedTokens = 4096;
// Upper bound for exp/nbf: 9999-12-31T23:59:59Z. Anything beyond would overflow time_point
// arithmetic and is not a date any issuer means.
inline constexpr double kMaxNumericDate = 253402300799.0;
// Token dates (exp, nbf) later than this are read as this: the server's clocks count nanoseconds
// in 64 bits and end in April 2262, so an issuer's "never expires" (often 9999999999, in 2286)
// would otherwise wrap into the past. 2255-01-01T00:00:00Z leaves room for the leeway and
// warning arithmetic; any date this far means "never" either way.
inline constexpr double kTokenDateHorizon = 8'993'721'600.0;
// The window of limits.connections_per_minute.
inline constexpr auto kConnectionRateWindow = std::chrono::seconds(60);
// A flooder must stay quiet (no rejected message) this long before its flood clock restarts:
// the time a bucket of one second's burst needs to refill.
inline constexpr auto kFloodQuiet = std::chrono::seconds(1);

// ---- abuse bookkeeping per client address (auth/abuse_monitor, auth/ban_list) ----
// Every map keyed by client address is bounded, so that an attacker with many addresses (an
// IPv6 /64 has 2^64) costs the server a fixed amount of memory: about 250 bytes an entry (the
// key twice, a hash node and a tree node); tests/abuse/test_bans.py measured 7 MB of RSS for
// bans from 20 000 addresses, with the ban list and the log throttle at their bounds.
// Addresses banned at once. A ban needs limits.auth_failures_before_ban bad tokens from one
// address, so filling 10 000 slots takes 100 000 failed verifications at the default; beyond,
// the ban ending first is evicted.
inline constexpr std::size_t kMaxBannedAddresses = 10'000;
// Addresses whose recent auth failures are counted (limits.auth_failure_window); when full, the
// count whose window ends first is forgotten. As many as can be banned.
inline constexpr std::size_t kMaxTrackedFailureAddresses = 10'000;
// Suspicious-pattern warn lines: at most one per address per period, and at most
// kMaxSuspiciousLinesPerPeriod for all addresses together (the rest are counted and the count
// is logged with the next line), so that the log cannot be flooded from many addresses either.
inline constexpr auto kSuspiciousLogPeriod = std::chrono::seconds(60);
inline constexpr std::size_t kMaxSuspiciousLinesPerPeriod = 100;
inline constexpr std::size_t kMaxThrottledLogKeys = 10'000;
// An event is "repeated", hence suspicious and logged, from its second occurrence from one
// address within kSuspiciousLogPeriod: one mistyped token or one 429 is not an attack.
inline constexpr std::uint64_t kSuspiciousRepeats = 2;

// ---- engine and server timers ----
// Offline checks and rule `duration` ticks: the resolution of devices.offline_after and of rule
// durations.
inline constexpr auto kEngineTickPeriod = std::chrono::seconds(1);
// Retention (history, resolved alerts) runs this often, in small batches.
inline constexpr auto kRetentionPeriod = std::chrono::minutes(1);
// Rows one retention batch deletes (one writer transaction): small enough that ingest's writes
// queued behind it wait a few milliseconds at most.
inline constexpr std::size_t kRetentionBatchRows = 500;
// The system channel's sampling period (its subscribers' minimum frequency is 1 s).
inline constexpr auto kSystemSamplePeriod = std::chrono::seconds(1);
// The demo simulator's step.
inline constexpr auto kDemoTickPeriod = std::chrono::seconds(1);

}  // namespace valtronics::limits
