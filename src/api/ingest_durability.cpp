// The synchronous ingest mode and the refusal while the storage is unavailable (see
// ingest_durability.hpp).
#include "api/ingest_durability.hpp"

#include <boost/json/object.hpp>
#include <string>
#include <utility>

#include "engine/engine.hpp"

namespace valtronics::api::ingest {

std::optional<Ack> requested_ack(Call& c) {
  auto q = query_params(c);
  if (!q) return std::nullopt;
  auto sync = q->get("sync");
  if (!sync || *sync == "false" || *sync == "0") return Ack::accepted;
  if (*sync == "true" || *sync == "1") return Ack::committed;
  c.fail(model::DomainError{model::DomainError::Kind::invalid,
                            "sync must be true, false, 1 or 0", "sync", {}});
  return std::nullopt;
}

bool storage_writable(Call& c) {
  if (c.ctx.engine.write_queue_full()) {
    // (issue 14) Readings come faster than the database commits them: the write queue stays
    // bounded, and the client is told when to come back.
    Response r = error_response(
        ErrorCode::service_unavailable,
        "the database write queue is full; nothing was accepted, retry shortly",
        boost::json::object{{"limit", "write_queue"}, {"retry_after_seconds", 1}});
    r.headers.emplace_back("Retry-After", "1");
    c.respond(std::move(r));
    return false;
  }
  if (c.ctx.engine.storage_available()) return true;
  auto health = c.ctx.engine.storage_health();
  Response r = error_response(
      ErrorCode::storage_unavailable,
      "the database cannot store readings now; nothing was accepted, retry later",
      boost::json::object{{"reason", health.last_error},
                          {"retry_after_seconds", kStorageRetryAfterSeconds}});
  r.headers.emplace_back("Retry-After", std::to_string(kStorageRetryAfterSeconds));
  c.respond(std::move(r));
  return false;
}

void ingest_committed(Call& c, std::vector<model::TelemetryEvent> events) {
  c.ctx.engine.ingest_committed(
      std::move(events), reply_data<std::size_t>(std::move(c.respond), 200, [](std::size_t n) {
        return boost::json::object{{"accepted", n}, {"stored", n}};
      }));
}

}  // namespace valtronics::api::ingest
