// Shard: index by channel and device, at-most-once delivery, removal, shared projection cache.
#include "hub/shard.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "hub/hub.hpp"

namespace valtronics::hub {
namespace {

struct Recorder : Subscriber {
  std::vector<std::uint64_t> seen;
  void on_event(const EventPtr& e, ProjectionCache& cache) override {
    seen.push_back(e->id);
    if (!cache.find("k")) cache.put("k", std::make_shared<const std::string>("shared"));
  }
};

EventPtr telemetry(std::uint64_t id, std::int64_t device) {
  auto e = std::make_shared<Event>();
  e->id = id;
  e->channel = model::Channel::telemetry;
  e->body = model::TelemetryEvent{device, {}};
  return e;
}

TEST(Shard, DeliversByDeviceAndToAllDevicesSubscribers) {
  Shard shard;
  Recorder one, all, other;
  shard.add(&one, model::Channel::telemetry, 1);
  shard.add(&all, model::Channel::telemetry, kAllDevices);
  shard.add(&other, model::Channel::telemetry, 2);
  shard.dispatch(telemetry(1, 1));
  EXPECT_EQ(one.seen, std::vector<std::uint64_t>{1});
  EXPECT_EQ(all.seen, std::vector<std::uint64_t>{1});
  EXPECT_TRUE(other.seen.empty());
}

TEST(Shard, AtMostOnceWhenSeveralRegistrationsMatch) {
  Shard shard;
  Recorder s;
  shard.add(&s, model::Channel::telemetry, 1);
  shard.add(&s, model::Channel::telemetry, kAllDevices);
  shard.add(&s, model::Channel::telemetry, 1);  // duplicate registration is ignored
  EXPECT_EQ(shard.registrations(), 2u);
  shard.dispatch(telemetry(5, 1));
  shard.dispatch(telemetry(6, 1));
  EXPECT_EQ(s.seen, (std::vector<std::uint64_t>{5, 6}));
}

TEST(Shard, OtherChannelsAreNotDelivered) {
  Shard shard;
  Recorder s;
  shard.add(&s, model::Channel::alerts, kAllDevices);
  shard.dispatch(telemetry(1, 1));
  EXPECT_TRUE(s.seen.empty());
}

TEST(Shard, RemoveStopsDelivery) {
  Shard shard;
  Recorder a, b;
  shard.add(&a, model::Channel::telemetry, 3);
  shard.add(&b, model::Channel::telemetry, 3);
  shard.remove(&a, model::Channel::telemetry, 3);
  shard.remove(&a, model::Channel::telemetry, 3);  // twice is harmless
  shard.remove(&a, model::Channel::telemetry, 99);
  EXPECT_EQ(shard.registrations(), 1u);
  shard.dispatch(telemetry(1, 3));
  EXPECT_TRUE(a.seen.empty());
  EXPECT_EQ(b.seen.size(), 1u);
}

TEST(Shard, SystemEventsReachAllDevicesSubscribers) {
  Shard shard;
  Recorder s;
  shard.add(&s, model::Channel::system, kAllDevices);
  auto e = std::make_shared<Event>();
  e->id = 9;
  e->channel = model::Channel::system;
  e->body = model::SystemEvent{};
  shard.dispatch(e);
  EXPECT_EQ(s.seen, std::vector<std::uint64_t>{9});
}

// ---- the inbox

EventPtr telemetry_at(std::uint64_t id, std::int64_t device, double value,
                      std::chrono::steady_clock::time_point at) {
  auto e = std::make_shared<Event>();
  e->id = id;
  e->channel = model::Channel::telemetry;
  model::MetricReading r;
  r.name = "t";
  r.value = value;
  e->body = model::TelemetryEvent{device, {r}};
  e->full_bytes = std::make_shared<const std::string>("{}");
  e->published_at = at;
  return e;
}

struct MergeRecorder : Subscriber {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> seen;  // id, merged
  void on_event(const EventPtr& e, ProjectionCache&) override { seen.emplace_back(e->id, e->merged); }
};

TEST(ShardInbox, OnePostPerBurstAndEverythingDrainedInOrder) {
  Shard shard(std::chrono::milliseconds(20));
  MergeRecorder s;
  shard.add(&s, model::Channel::telemetry, 1);
  const auto now = std::chrono::steady_clock::now();
  EventPtr a = telemetry_at(1, 1, 1, now), b = telemetry_at(2, 1, 2, now);
  EXPECT_FALSE(shard.has_queued());
  EXPECT_TRUE(shard.enqueue({&a, 1}));   // was empty: the caller posts a drain
  EXPECT_FALSE(shard.enqueue({&b, 1}));  // a drain is already on its way
  EXPECT_TRUE(shard.has_queued());
  shard.drain(now + std::chrono::milliseconds(5));  // not behind: every update on its own
  EXPECT_FALSE(shard.has_queued());
  EXPECT_EQ(s.seen, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{{1, 1}, {2, 1}}));
  EXPECT_EQ(shard.conflated(), 0u);
  EXPECT_TRUE(shard.enqueue({&a, 1}));  // empty again
}

TEST(ShardInbox, ConflatesOnlyWhenTheOldestWaitedLongerThanConflateAfter) {
  Shard shard(std::chrono::milliseconds(20));
  MergeRecorder s;
  shard.add(&s, model::Channel::telemetry, 1);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<EventPtr> batch{telemetry_at(1, 1, 1, t0), telemetry_at(2, 1, 2, t0),
                              telemetry_at(3, 1, 3, t0)};
  shard.enqueue(batch);
  shard.drain(t0 + std::chrono::milliseconds(25));
  EXPECT_EQ(s.seen, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{{3, 3}}));
  EXPECT_EQ(shard.conflated(), 2u);
}

// A burst of `n` fresh telemetry events of device 1 (ids from `first`), drained at `at`.
void drain_burst(Shard& shard, std::uint64_t first, std::size_t n,
                 std::chrono::steady_clock::time_point at) {
  std::vector<EventPtr> batch;
  for (std::size_t i = 0; i < n; ++i)
    batch.push_back(telemetry_at(first + i, 1, static_cast<double>(first + i), at));
  shard.enqueue(batch);
  shard.drain(at);
}

TEST(ShardInbox, ConflatesFreshEventsWhoseDeliveryWouldTakeLongerThanConflateAfter) {
  // A pipelining publisher's readings arrive fresh, many at a time: what is slow is their
  // delivery, predicted from the cost per delivery of the last large round.
  Shard shard(std::chrono::milliseconds(20));
  std::vector<MergeRecorder> subs(10);
  for (auto& s : subs) shard.add(&s, model::Channel::telemetry, 1);
  const auto t0 = std::chrono::steady_clock::now();
  using std::chrono::milliseconds;
  // Nothing measured yet: 100 fresh events all go out (1 000 deliveries), the round is
  // written 50 ms later: 50 µs per delivery.
  drain_burst(shard, 1, 100, t0);
  EXPECT_EQ(subs[0].seen.size(), 100u);
  EXPECT_EQ(shard.conflated(), 0u);
  shard.written(t0 + milliseconds(50));
  EXPECT_EQ(shard.cost_per_delivery(), std::chrono::microseconds(50));
  // 3 fresh events: 30 deliveries, 1.5 ms predicted: every one on its own.
  for (auto& s : subs) s.seen.clear();
  drain_burst(shard, 101, 3, t0 + milliseconds(100));
  EXPECT_EQ(subs[0].seen.size(), 3u);
  shard.written(t0 + milliseconds(101));  // a small round: teaches nothing
  EXPECT_EQ(shard.cost_per_delivery(), std::chrono::microseconds(50));
  // 50 fresh events: 500 deliveries, 25 ms predicted: one update, the latest, conflated 50.
  for (auto& s : subs) s.seen.clear();
  drain_burst(shard, 201, 50, t0 + milliseconds(200));
  EXPECT_EQ(subs[0].seen, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{{250, 50}}));
  EXPECT_EQ(subs[9].seen, subs[0].seen);
  EXPECT_EQ(shard.conflated(), 49u);
}

TEST(ShardInbox, CheapDeliveriesAreNotConflated) {
  Shard shard(std::chrono::milliseconds(20));
  std::vector<MergeRecorder> subs(10);
  for (auto& s : subs) shard.add(&s, model::Channel::telemetry, 1);
  const auto t0 = std::chrono::steady_clock::now();
  drain_burst(shard, 1, 100, t0);
  shard.written(t0 + std::chrono::milliseconds(1));  // 1 µs per delivery
  subs[0].seen.clear();
  drain_burst(shard, 101, 500, t0 + std::chrono::milliseconds(10));  // 5 ms predicted
  EXPECT_EQ(subs[0].seen.size(), 500u);
  EXPECT_EQ(shard.conflated(), 0u);
}

TEST(ShardInbox, BehindWithAFlushOnItsWayHoldsEventsUntilWritten) {
  // The thread has more than conflate_after's worth of deliveries not yet written: what
  // arrives waits for the flush (written()) and goes out with what arrives meanwhile, one
  // update per device, the alert in its place.
  Shard shard(std::chrono::milliseconds(20));
  std::vector<MergeRecorder> subs(10);
  for (auto& s : subs) {
    shard.add(&s, model::Channel::telemetry, 1);
    shard.add(&s, model::Channel::alerts, kAllDevices);
  }
  const auto t0 = std::chrono::steady_clock::now();
  using std::chrono::milliseconds;
  drain_burst(shard, 1, 100, t0);
  shard.written(t0 + milliseconds(500));  // 1 000 deliveries: 500 µs each
  ASSERT_EQ(shard.cost_per_delivery(), std::chrono::microseconds(500));
  for (auto& s : subs) s.seen.clear();
  shard.flush_scheduled();
  drain_burst(shard, 101, 3, t0 + milliseconds(600));  // 30 deliveries, 15 ms: each alone
  drain_burst(shard, 104, 1, t0 + milliseconds(601));  // 30 unwritten before it: out
  drain_burst(shard, 105, 1, t0 + milliseconds(602));  // 40 (20 ms, not more): out
  EXPECT_EQ(subs[0].seen, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{
                              {101, 1}, {102, 1}, {103, 1}, {104, 1}, {105, 1}}));
  // 50 unwritten (25 ms): held from here on, the alert too, so that nothing overtakes.
  drain_burst(shard, 106, 1, t0 + milliseconds(603));
  auto alert = std::make_shared<Event>();
  alert->id = 107;
  alert->channel = model::Channel::alerts;
  alert->full_bytes = std::make_shared<const std::string>("{}");
  alert->published_at = t0 + milliseconds(604);
  const EventPtr alert_event = alert;
  shard.enqueue({&alert_event, 1});
  shard.drain(t0 + milliseconds(604));
  // A reload switching conflation off meanwhile does not let later events overtake held ones.
  shard.set_conflate_after(std::chrono::milliseconds::zero());
  drain_burst(shard, 108, 2, t0 + milliseconds(605));
  EXPECT_EQ(subs[0].seen.size(), 5u);
  shard.set_conflate_after(std::chrono::milliseconds(20));
  shard.written(t0 + milliseconds(610));  // the flush is done: the held events go out
  EXPECT_EQ(subs[0].seen, (std::vector<std::pair<std::uint64_t, std::uint32_t>>{
                              {101, 1}, {102, 1}, {103, 1}, {104, 1}, {105, 1}, {107, 1},
                              {109, 3}}));
  EXPECT_EQ(subs[9].seen, subs[0].seen);
  // No flush on its way: nothing is held (it would wait for a written() that never comes).
  shard.written(t0 + milliseconds(620));
  drain_burst(shard, 201, 1, t0 + milliseconds(630));
  EXPECT_EQ(subs[0].seen.back(), (std::pair<std::uint64_t, std::uint32_t>{201, 1}));
}

TEST(ShardInbox, ZeroNeverConflates) {
  Shard shard;  // limits.conflate_after = 0
  MergeRecorder s;
  shard.add(&s, model::Channel::telemetry, 1);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<EventPtr> batch{telemetry_at(1, 1, 1, t0), telemetry_at(2, 1, 2, t0)};
  shard.enqueue(batch);
  shard.drain(t0 + std::chrono::seconds(10));
  EXPECT_EQ(s.seen.size(), 2u);
}

// ---- ingest in flight: park and wake

TEST(HubIngest, ParkWaitsForTheLastTicketAndWakesOnce) {
  boost::asio::io_context ioc;
  Hub hub({&ioc});
  int wakes = 0;
  hub.shard(0).set_wake([&] { ++wakes; });
  EXPECT_FALSE(hub.park(0));  // nothing in flight: write now
  {
    auto t1 = hub.start_ingest();
    auto t2 = hub.start_ingest();
    EXPECT_TRUE(hub.ingest_in_flight());
    EXPECT_TRUE(hub.park(0));
    { auto moved = std::move(t1); }  // one still in flight
    EXPECT_EQ(wakes, 0);
  }
  EXPECT_EQ(wakes, 1);  // the last ticket's end woke the shard
  EXPECT_FALSE(hub.unpark(0));  // the wake took the wait: no second writer
  EXPECT_FALSE(hub.ingest_in_flight());
}

TEST(HubIngest, UnparkTakesTheWaitBackSoTheWakeDoesNotRun) {
  boost::asio::io_context ioc;
  Hub hub({&ioc});
  int wakes = 0;
  hub.shard(0).set_wake([&] { ++wakes; });
  {
    auto t = hub.start_ingest();
    EXPECT_TRUE(hub.park(0));
    EXPECT_TRUE(hub.unpark(0));  // the cork's timer ended the wait first
  }
  EXPECT_EQ(wakes, 0);
}

TEST(HubIngest, PublishAppendsToEveryShardAndPostsOneDrain) {
  boost::asio::io_context a, b;
  Hub hub({&a, &b});
  MergeRecorder sa, sb;
  hub.shard(0).add(&sa, model::Channel::telemetry, kAllDevices);
  hub.shard(1).add(&sb, model::Channel::telemetry, kAllDevices);
  hub.publish(model::TelemetryEvent{1, {}});
  hub.publish_many({model::TelemetryEvent{1, {}}, model::TelemetryEvent{2, {}}});
  EXPECT_TRUE(hub.shard(0).has_queued());
  EXPECT_EQ(a.poll(), 1u);  // one drain for the three events
  EXPECT_EQ(b.poll(), 1u);
  EXPECT_EQ(sa.seen.size(), 3u);
  EXPECT_EQ(sb.seen.size(), 3u);
  EXPECT_EQ(hub.published(), 3u);
}

}  // namespace
}  // namespace valtronics::hub
