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
