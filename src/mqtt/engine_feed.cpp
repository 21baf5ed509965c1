// The MQTT thread's ordered, batched hand-over to the engine (see engine_feed.hpp).
#include "mqtt/engine_feed.hpp"

#include <utility>
#include <vector>

#include "metrics/counters.hpp"

namespace valtronics::mqtt {

EngineFeed::EngineFeed(engine::Engine& engine, util::LinkStatus& status, Refused on_refused)
    : engine_(engine), status_(status), on_refused_(std::move(on_refused)) {}

bool EngineFeed::push(model::TelemetryEvent e) { return push_item(std::move(e)); }

bool EngineFeed::push(std::int64_t device, model::StatusReport report) {
  return push_item(Status{device, std::move(report)});
}

bool EngineFeed::push_item(Item item) {
  std::unique_lock lock(mu_);
  // Waiting for room also retries a batch held back by unavailable storage, so a full queue
  // cannot wait for a pump() that its own thread would have to make.
  while (!stopped_ && queue_.size() >= kMaxQueued) {
    changed_.wait_for(lock, std::chrono::milliseconds(100));
    send_next(lock);
  }
  if (stopped_) return false;
  queue_.push_back(std::move(item));
  send_next(lock);
  return true;
}

void EngineFeed::pump() {
  std::unique_lock lock(mu_);
  send_next(lock);
}

void EngineFeed::send_next(std::unique_lock<std::mutex>& lock) {
  if (in_flight_ || queue_.empty()) return;
  // The same rule as HTTP ingest (503 while the storage refuses writes): nothing is applied
  // that could not be stored. Here the items wait instead of being refused.
  if (!engine_.storage_available()) return;
  in_flight_ = true;
  if (auto* s = std::get_if<Status>(&queue_.front())) {
    Status item = std::move(*s);
    queue_.pop_front();
    changed_.notify_all();
    lock.unlock();
    const auto device = item.device;
    engine_.report_status(device, std::move(item.report),
                          [this, device](model::Result<model::Device> r) {
                            if (r) {
                              ++status_.statuses;
                            } else {
                              ++status_.rejected;
                              on_refused_(device, r.error());
                            }
                            std::unique_lock lock(mu_);
                            done(lock);
                          });
    lock.lock();
    return;
  }
  // The telemetry at the head of the queue, up to the next status report.
  std::vector<model::TelemetryEvent> batch;
  while (!queue_.empty() && batch.size() < kMaxBatch) {
    auto* e = std::get_if<model::TelemetryEvent>(&queue_.front());
    if (e == nullptr) break;
    batch.push_back(std::move(*e));
    queue_.pop_front();
  }
  changed_.notify_all();
  lock.unlock();
  // Each event's device and reading count, for the counters and the refusal log.
  std::vector<std::pair<std::int64_t, std::size_t>> sent;
  sent.reserve(batch.size());
  for (const auto& e : batch) sent.emplace_back(e.device_id, e.readings.size());
  engine_.ingest_each(
      std::move(batch),
      [this, sent = std::move(sent)](std::vector<std::optional<model::DomainError>> verdicts) {
        std::uint64_t readings = 0, refused = 0, refused_readings = 0;
        for (std::size_t i = 0; i < verdicts.size(); ++i) {
          if (!verdicts[i]) {
            readings += sent[i].second;
            continue;
          }
          ++refused;
          refused_readings += sent[i].second;
          on_refused_(sent[i].first, *verdicts[i]);
        }
        using metrics::Source;
        metrics::add(metrics::at(metrics::slot::readings_accepted, Source::mqtt), readings);
        metrics::add(metrics::at(metrics::slot::readings_rejected, Source::mqtt), refused_readings);
        status_.readings += readings;
        status_.rejected += refused;
        std::unique_lock lock(mu_);
        done(lock);
      });
  lock.lock();
}

void EngineFeed::done(std::unique_lock<std::mutex>& lock) {
  in_flight_ = false;
  changed_.notify_all();
  send_next(lock);
}

bool EngineFeed::wait_idle(std::chrono::milliseconds max) {
  std::unique_lock lock(mu_);
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (in_flight_ || !queue_.empty()) {
    if (!in_flight_) send_next(lock);  // storage back since the last try
    if (changed_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() +
                                                         std::chrono::milliseconds(100))) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline)
      return !in_flight_ && queue_.empty();
  }
  return true;
}

void EngineFeed::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  changed_.notify_all();
}

std::size_t EngineFeed::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace valtronics::mqtt
