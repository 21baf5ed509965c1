// Retention: at start and every limits::kRetentionPeriod, a pass deletes history readings older
// than telemetry.retention, then their per-minute rollups (minutes that ended before the same
// cut), then resolved alerts resolved longer than alerts.retention ago.
// A pass is a chain of batches of at most limits::kRetentionBatchRows rows, one writer operation each;
// the next batch is queued only once the previous one committed, so other writes (alerts,
// status changes, latest values) queued meanwhile go first and pruning a large backlog holds
// the writer only a few milliseconds at a time. A batch that deletes fewer rows than it may
// ends its table's part of the pass. One pass runs at a time.
#include <spdlog/spdlog.h>

#include "config/limits.hpp"
#include "engine/engine_impl.hpp"

namespace valtronics::engine {

void Engine::prune_now(Reply<RetentionReport> reply) {
  impl_->call(&Impl::prune_now, std::move(reply));
}

void Engine::Impl::on_retention_timer() {
  if (!retention_pass) begin_retention_pass();
  retention_timer.expires_after(limits::kRetentionPeriod);
  retention_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_retention_timer();
  });
}

void Engine::Impl::prune_now(Reply<RetentionReport> reply) {
  next_pass_waiters.push_back(std::move(reply));
  if (!retention_pass) begin_retention_pass();
}

void Engine::Impl::begin_retention_pass() {
  const auto now = util::Clock::now();
  auto& pass = retention_pass.emplace();
  pass.waiters = std::move(next_pass_waiters);
  next_pass_waiters.clear();
  if (cfg.telemetry.retention.count() > 0)
    pass.history_before = pass.minutes_before = now - cfg.telemetry.retention;
  if (cfg.alerts.retention.count() > 0) pass.alerts_before = now - cfg.alerts.retention;
  prune_next_batch();
}

void Engine::Impl::prune_next_batch() {
  auto& pass = *retention_pass;
  if (stopping || (!pass.history_before && !pass.minutes_before && !pass.alerts_before))
    return end_retention_pass();
  const auto table = pass.history_before   ? PrunedTable::history
                     : pass.minutes_before ? PrunedTable::minutes
                                           : PrunedTable::alerts;
  const auto before = table == PrunedTable::history   ? *pass.history_before
                      : table == PrunedTable::minutes ? *pass.minutes_before
                                                      : *pass.alerts_before;
  // Written by the operation (which may run twice if its transaction is retried), read by the
  // callback after the commit.
  auto deleted = std::make_shared<std::size_t>(0);
  writer->submit(
      [table, before, deleted](store::Database& db) {
        switch (table) {
          case PrunedTable::history:
            *deleted = store::prune_history(db, before, limits::kRetentionBatchRows);
            break;
          case PrunedTable::minutes:
            *deleted = store::prune_history_minutes(db, before, limits::kRetentionBatchRows);
            break;
          case PrunedTable::alerts:
            *deleted = store::prune_resolved_alerts(db, before, limits::kRetentionBatchRows);
            break;
        }
      },
      [this, table, deleted](bool ok) {
        post([this, table, ok, deleted] { on_batch_pruned(table, ok, *deleted); });
      });
}

void Engine::Impl::on_batch_pruned(PrunedTable table, bool ok, std::size_t deleted) {
  auto& pass = *retention_pass;
  ++pass.report.batches;
  if (ok) {
    if (table == PrunedTable::history) pass.report.readings += deleted;
    else if (table == PrunedTable::minutes) pass.report.minutes += deleted;
    else pass.report.alerts += deleted;
  }
  // A short batch found all there was; a failed one (logged by the writer) is retried by the
  // next pass.
  if (!ok || deleted < limits::kRetentionBatchRows) {
    if (table == PrunedTable::history) pass.history_before.reset();
    else if (table == PrunedTable::minutes) pass.minutes_before.reset();
    else pass.alerts_before.reset();
  }
  prune_next_batch();
}

void Engine::Impl::end_retention_pass() {
  RetentionPass pass = std::move(*retention_pass);
  retention_pass.reset();
  if (pass.report.alerts || pass.report.readings)
    spdlog::info("retention: deleted {} resolved alerts and {} history readings in {} batches",
                 pass.report.alerts, pass.report.readings, pass.report.batches);
  for (auto& reply : pass.waiters) reply(pass.report);
  // prune_now() calls made during this pass get one of their own.
  if (!next_pass_waiters.empty() && !stopping) begin_retention_pass();
}

}  // namespace valtronics::engine
