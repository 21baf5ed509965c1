// What the MQTT thread hands the engine, in arrival order and in batches. While one batch is
// with the engine the next one gathers, and the engine's answer sends it: a lone message goes
// at once (light load waits for nothing), and under load one engine call carries everything
// that arrived during the previous one, instead of one engine post per message.
//
// Telemetry and status reports keep their order (a device's Last Will "offline" is not
// overtaken by a reading it sent before it died). Each message stands alone: one refused (an
// unknown device without ingest.auto_register, too many metrics, a bad status) is counted and
// reported through `on_refused`, the others are applied (Engine::ingest_each).
//
// Nothing is dropped. While the storage refuses writes, batches wait (pump() retries them); the
// queue is bounded, and once full push() waits for room, so the MQTT thread stops reading and the
// broker keeps the messages (QoS 1 with a persistent session holds them across a reconnect).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <variant>

#include "engine/engine.hpp"
#include "model/device.hpp"
#include "model/errors.hpp"
#include "model/events.hpp"
#include "util/link_status.hpp"

namespace valtronics::mqtt {

class EngineFeed {
 public:
  // Called (on the engine thread) for each refused message with its device and the reason.
  using Refused = std::function<void(std::int64_t device, const model::DomainError&)>;

  // Items waiting at most, and per engine call: a queue of ~a second at the target rate, and
  // batches that keep one engine turn short.
  static constexpr std::size_t kMaxQueued = 200'000;
  static constexpr std::size_t kMaxBatch = 1'024;

  EngineFeed(engine::Engine& engine, util::LinkStatus& status, Refused on_refused);
  EngineFeed(const EngineFeed&) = delete;
  EngineFeed& operator=(const EngineFeed&) = delete;

  // From the MQTT thread. They wait while the queue is full; false (nothing queued) once
  // stop() was called.
  bool push(model::TelemetryEvent e);
  bool push(std::int64_t device, model::StatusReport report);
  // Sends the next batch if none is with the engine (after the storage came back).
  void pump();
  // Waits until every item pushed was answered, at most `max`; true when it was.
  bool wait_idle(std::chrono::milliseconds max);
  // push() refuses from now on and a push() waiting for room returns false.
  void stop();
  std::size_t queued() const;

 private:
  struct Status {
    std::int64_t device;
    model::StatusReport report;
  };
  using Item = std::variant<model::TelemetryEvent, Status>;

  bool push_item(Item item);
  // Under the lock: takes the next batch if nothing is in flight and the storage is writable;
  // then (lock released) hands it to the engine.
  void send_next(std::unique_lock<std::mutex>& lock);
  void done(std::unique_lock<std::mutex>& lock);  // an answer came: the next batch may go

  engine::Engine& engine_;
  util::LinkStatus& status_;
  Refused on_refused_;
  mutable std::mutex mu_;
  std::condition_variable changed_;  // room in the queue, or idle
  std::deque<Item> queue_;
  bool in_flight_ = false;
  bool stopped_ = false;
};

}  // namespace valtronics::mqtt
