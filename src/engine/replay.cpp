// since_alert_id replays: the stored alerts after an id, oldest first, within the filters and
// the token's devices, and whether they are all of them (`complete`). The reply waits until
// every alert the query could see has been published, so that a subscriber holding live alerts
// meanwhile can tell what the replay covers.
#include <spdlog/spdlog.h>

#include "engine/engine_impl.hpp"

namespace valtronics::engine {

void Engine::replay_alerts(std::int64_t since_id, protocol::Filters filters, auth::Claims claims,
                           Reply<model::AlertReplay> reply) {
  impl_->call(&Impl::replay_alerts, since_id, std::move(filters), std::move(claims),
              std::move(reply));
}

void Engine::Impl::replay_alerts(std::int64_t since_id, protocol::Filters filters,
                                 auth::Claims claims, Reply<model::AlertReplay> reply) {
  model::AlertReplay out;
  store::AlertQuery q;
  q.since_id = since_id;
  q.severities = filters.severities;
  q.alert_types = filters.alert_types;
  q.device_ids = filters.device_ids;
  if (!restrict_to_claims(q.device_ids, claims)) return reply(std::move(out));
  try {
    const auto limit = cfg.alerts.replay_max_alerts;
    const auto total = static_cast<std::size_t>(store::count_alerts(reader, q));
    // Beyond the limit, send the newest `limit` and say history is incomplete.
    if (total > limit) {
      q.offset = total - limit;
      out.complete = false;
    }
    q.limit = limit;
    out.alerts = store::list_alerts(reader, q);
    const auto oldest_allowed = util::Clock::now() - cfg.alerts.replay_max_age;
    const auto before = out.alerts.size();
    std::erase_if(out.alerts, [&](const model::Alert& a) { return a.timestamp < oldest_allowed; });
    if (out.alerts.size() != before) out.complete = false;
    out.oldest_available = store::min_alert_id(reader);
    // Retention deleted an alert after since_id: it cannot be replayed. (Retention deletes
    // resolved alerts only, out of id order, so the oldest id left does not show it.)
    if (store::max_pruned_alert_id(reader) > since_id) out.complete = false;
    // Nor can alerts deleted from the front of the table by other means.
    if (out.oldest_available > since_id + 1 && store::max_alert_id(reader) > since_id)
      out.complete = false;
  } catch (const store::StoreError& e) {
    spdlog::error("replay alerts: {}", e.what());
    out.alerts.clear();
    out.complete = false;
  }
  // Alerts are published from the writer's commit callbacks, in order: once this no-op's
  // callback runs, every alert the query could see has been published (and posted to the
  // subscriber's thread ahead of this reply).
  writer->submit([](store::Database&) {},
                 [reply = std::move(reply), out = std::move(out)](bool) mutable {
                   reply(std::move(out));
                 },
                 store::Writer::Commit::prompt);
}

}  // namespace valtronics::engine
