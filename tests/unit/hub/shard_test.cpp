// Shard: index by channel and device, at-most-once delivery, removal, shared projection cache.
#include "hub/shard.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace valtronics::hub
