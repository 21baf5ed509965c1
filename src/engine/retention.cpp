// Retention: at start and every limits::kRetentionPeriod, history readings older than
// telemetry.retention are deleted.
#include <limits>

#include "config/limits.hpp"
#include "engine/engine_impl.hpp"

namespace valtronics::engine {

void Engine::Impl::on_retention_timer() {
  if (cfg.telemetry.retention.count() > 0) {
    const auto before = util::Clock::now() - cfg.telemetry.retention;
    writer->submit([before](store::Database& db) {
      store::prune_history(db, before, std::numeric_limits<std::size_t>::max());
    });
  }
  retention_timer.expires_after(limits::kRetentionPeriod);
  retention_timer.async_wait([this](boost::system::error_code ec) {
    if (!ec) on_retention_timer();
  });
}

}  // namespace valtronics::engine
