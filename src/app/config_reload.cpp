// SIGHUP and the configuration file: what can change while connections stay open.
//
// The live keys (config.cpp's table marks them: every [limits] key, auth.allowed_origins,
// log_level) are copied into the running configuration, and into the parts that keep a copy,
// while every I/O thread is parked (net::Server::with_threads_paused): the I/O threads are the
// only readers of those keys, so no lock is added to their paths. Limits kept per connection
// (its message rate buckets, its queue and frame sizes) apply to connections opened after the
// reload; the server-wide ones (connection caps, bans, timeouts, origins) at once. Any other
// key that changed is named in a warning and waits for a restart.
#include <spdlog/spdlog.h>

#include "app/application.hpp"

namespace valtronics::app {

void Application::reload_config() {
  config::Config fresh;
  try {
    fresh = reread_();
  } catch (const std::exception& e) {
    spdlog::error("SIGHUP: configuration refused, the running one stays: {}", e.what());
    return;
  }
  for (const auto& key : config::restart_needed(cfg_, fresh))
    spdlog::warn("SIGHUP: {} changed; it takes effect after a restart (the running value stays)",
                 key);
  const auto changed = config::live_changes(cfg_, fresh);
  if (changed.empty()) {
    spdlog::info("SIGHUP: configuration read again; no live key changed");
    return;
  }
  const bool applied = server_.with_threads_paused(
      [&] {
        cfg_.limits = fresh.limits;
        cfg_.auth.allowed_origins = fresh.auth.allowed_origins;
        cfg_.log_level = fresh.log_level;
        const auto& l = cfg_.limits;
        ctx_.registry.set_limits(l.max_connections, l.max_connections_per_user,
                                 l.max_unauthenticated);
        ctx_.connection_limiter.set_per_minute(l.connections_per_minute);
        ctx_.abuse.set_options({l.auth_failures_before_ban, l.auth_failure_window, l.ban_duration});
        ctx_.http_cap.set_max(l.max_http_connections);
        ctx_.parse_options.max_batch = l.max_batch;
        for (std::size_t i = 0; i < hub_.shard_count(); ++i)
          hub_.shard(i).set_conflate_after(l.conflate_after);
      },
      std::chrono::seconds(2));
  if (!applied) {
    spdlog::error("SIGHUP: an I/O thread did not pause within 2 s; configuration not applied");
    return;
  }
  spdlog::set_level(spdlog::level::from_str(cfg_.log_level));
  std::string names;
  for (const auto& key : changed) names += (names.empty() ? "" : ", ") + key;
  spdlog::info("SIGHUP: configuration reloaded ({} live key(s) changed: {})", changed.size(),
               names);
}

}  // namespace valtronics::app
