// POST /api/v1/telemetry and /api/v1/telemetry/batch. The whole body is validated, and every
// device authorized, before anything is applied: a request is applied whole or not at all.
#include <boost/json/object.hpp>
#include <string>

#include "api/handlers.hpp"
#include "api/ingest_durability.hpp"
#include "api/ingest_body.hpp"
#include "engine/engine.hpp"
#include "metrics/counters.hpp"
#include "util/time.hpp"

namespace valtronics::api::ingest {

namespace {

// Counts a request's readings (GET /metrics) as accepted or rejected by its answer's status.
Respond counting(Respond respond, std::uint64_t readings) {
  return [respond = std::move(respond), readings](Response r) {
    metrics::add(metrics::at(r.status < 300 ? metrics::slot::readings_accepted
                                            : metrics::slot::readings_rejected,
                             metrics::Source::http),
                 readings);
    respond(std::move(r));
  };
}

void accept(Call& c, bool batch) {
  auto claims = authenticated(c);
  if (!claims) return;
  const auto ack = requested_ack(c);
  if (!ack) return;
  const auto now = util::Clock::now();
  auto events = batch ? parse_batch(c.request.body, c.ctx.cfg.ingest.max_items, now)
                      : parse_single(c.request.body, now);
  if (!events) {
    // An unreadable body counts as one rejected reading: how many it meant is unknown.
    metrics::add(metrics::at(metrics::slot::readings_rejected, metrics::Source::http));
    return c.fail(events.error());
  }
  std::uint64_t readings = 0;
  for (const auto& ev : *events) readings += ev.readings.size();
  c.respond = counting(std::move(c.respond), readings);
  for (const auto& ev : *events) {
    if (!auth::may_ingest(*claims, ev.device_id))
      return c.fail({model::DomainError::Kind::forbidden,
                     "token may not ingest telemetry for device " + std::to_string(ev.device_id),
                     {},
                     {}});
  }
  if (!storage_writable(c)) return;
  if (*ack == Ack::committed) return ingest_committed(c, std::move(*events));
  // The engine registers or refuses unknown devices, updates statuses, evaluates rules and
  // publishes the telemetry itself.
  c.ctx.engine.ingest(std::move(*events),
                      reply_data<std::size_t>(std::move(c.respond), 202, [](std::size_t readings) {
                        return boost::json::object{{"accepted", readings}};
                      }));
}

}  // namespace

void single(Call& c) { accept(c, false); }
void batch(Call& c) { accept(c, true); }

}  // namespace valtronics::api::ingest
