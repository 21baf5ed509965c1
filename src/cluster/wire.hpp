// (issue 12) What nodes of a cluster send each other over NATS, as compact JSON: events (the
// hub's bodies), forwarded ingest and status reports with their answers, and change notices.
// Only nodes of this program read it; every decoder still checks what it reads, and a message it
// cannot read is a WireError (logged and dropped by the caller, never fatal).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.hpp"
#include "model/device.hpp"
#include "model/errors.hpp"
#include "model/events.hpp"

namespace valtronics::cluster::wire {

class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string encode_event(const model::EventBody& body);
model::EventBody decode_event(std::string_view text);

// A forwarded ingest: mode and events. (A request is named by its reply subject, which the
// answer goes to: the messages carry no id of their own.)
struct IngestRequest {
  engine::IngestMode mode = engine::IngestMode::applied;
  std::vector<model::TelemetryEvent> events;
};
std::string encode_ingest(const IngestRequest& r);
IngestRequest decode_ingest(std::string_view text);

// A forwarded status report.
struct ReportRequest {
  std::int64_t device_id = 0;
  model::StatusReport report;
};
std::string encode_report(const ReportRequest& r);
ReportRequest decode_report(std::string_view text);

// Both requests carry an "op" ("ingest" or "report"); the owner reads it first.
std::string op_of(std::string_view text);

// The owner's answer to either request: verdicts (ingest mode `each`), or the refusal.
struct Answer {
  std::optional<model::DomainError> error;
  engine::Verdicts verdicts;
};
std::string encode_answer(const Answer& a);
Answer decode_answer(std::string_view text);

std::string encode_change(const engine::Change& c);
engine::Change decode_change(std::string_view text);

}  // namespace valtronics::cluster::wire
