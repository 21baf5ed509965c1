// The engine in a cluster (engine/cluster.cpp, issue 12): readings of devices it does not own go
// to the forwarder by partition, forwarded readings of partitions it does not own are refused,
// and a partition it adopts comes with its state from the database (an open alert is not raised
// a second time by the new owner). The forwarder here records what it is given and answers as
// the test says: the NATS side is tested with real servers (tests/integration/test_cluster.py).
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "engine/engine_fixture.hpp"
#include "engine/partition.hpp"

namespace valtronics::engine::test {
namespace {

constexpr unsigned kPartitions = 4;

class RecordingForwarder : public Forwarder {
 public:
  struct Call {
    unsigned partition;
    std::vector<model::TelemetryEvent> events;
    IngestMode mode;
  };
  void forward_ingest(unsigned partition, std::vector<model::TelemetryEvent> events,
                      IngestMode mode,
                      std::function<void(model::Result<Verdicts>)> reply) override {
    {
      std::lock_guard lock(mu);
      calls.push_back({partition, events, mode});
    }
    if (refusal) return reply(*refusal);
    reply(mode == IngestMode::each ? Verdicts(events.size()) : Verdicts{});
  }
  void forward_report(unsigned, std::int64_t, model::StatusReport,
                      std::function<void(model::Result<void>)> reply) override {
    reply(model::Result<void>{});
  }
  std::mutex mu;
  std::vector<Call> calls;
  std::optional<model::DomainError> refusal;
};

// Two devices in different partitions: `mine` owned by the engine, `theirs` not.
class EngineCluster : public EngineTest {
 protected:
  void SetUp() override {
    for (std::int64_t d = 2; d < 100; ++d)
      if (partition_of(d, kPartitions) != partition_of(mine, kPartitions)) {
        theirs = d;
        break;
      }
  }
  // The engine first: its threads call the forwarder and the change listener below, which the
  // base class would otherwise outlive.
  void TearDown() override { engine.reset(); }

  void start_clustered() {
    engine = std::make_unique<Engine>(cfg, hub);
    for (auto channel : model::all_values<model::Channel>())
      hub.shard(0).add(&recorder, channel, hub::kAllDevices);
    engine->enable_partitioning(kPartitions, &forwarder, [this](Change c) {
      std::lock_guard lock(forwarder.mu);
      changes.push_back(c);
    });
    engine->start();
    ask<bool>([&](auto reply) {
      engine->adopt_partitions({partition_of(mine, kPartitions)}, [reply] { reply(true); });
    });
  }

  std::int64_t mine = 1, theirs = 0;
  RecordingForwarder forwarder;
  std::vector<Change> changes;
};

TEST_F(EngineCluster, ReadingsOfOtherPartitionsGoToTheirOwnerAndTheRestIsAppliedHere) {
  start_clustered();
  auto r = ingest({reading(mine, "t", 1), reading(theirs, "t", 2)});
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, 2u);
  ASSERT_EQ(forwarder.calls.size(), 1u);
  EXPECT_EQ(forwarder.calls[0].partition, partition_of(theirs, kPartitions));
  ASSERT_EQ(forwarder.calls[0].events.size(), 1u);
  EXPECT_EQ(forwarder.calls[0].events[0].device_id, theirs);
  EXPECT_EQ(forwarder.calls[0].mode, IngestMode::applied);
  settle();
  std::vector<std::int64_t> published;
  for (const auto& e : recorder.bodies<model::TelemetryEvent>()) published.push_back(e.device_id);
  EXPECT_EQ(published, std::vector<std::int64_t>{mine});  // its owner publishes the other
  EXPECT_EQ(engine->owned_partitions(),
            std::vector<unsigned>{partition_of(mine, kPartitions)});
}

TEST_F(EngineCluster, TheOwnersRefusalIsTheAnswer) {
  start_clustered();
  forwarder.refusal = model::DomainError{model::DomainError::Kind::device_not_found,
                                         "device is not registered", "", {}};
  auto r = ingest({reading(theirs, "t", 2)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, model::DomainError::Kind::device_not_found);
}

TEST_F(EngineCluster, EachModeAnswersEveryEventInItsPlace) {
  start_clustered();
  forwarder.refusal = model::DomainError{model::DomainError::Kind::unavailable, "moving", "", {}};
  auto v = ask<Verdicts>([&](auto reply) {
    engine->ingest_each({reading(theirs, "t", 1), reading(mine, "t", 2), reading(theirs, "t", 3)},
                        std::move(reply));
  });
  ASSERT_EQ(v.size(), 3u);
  ASSERT_TRUE(v[0]);
  EXPECT_EQ(v[0]->kind, model::DomainError::Kind::unavailable);
  EXPECT_FALSE(v[1]);
  ASSERT_TRUE(v[2]);
}

TEST_F(EngineCluster, ForwardedReadingsOfAPartitionNotOwnedAreRefusedForARetry) {
  start_clustered();
  auto r = ask<model::Result<Verdicts>>([&](auto reply) {
    engine->ingest_forwarded({reading(theirs, "t", 1)}, IngestMode::applied, std::move(reply));
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, model::DomainError::Kind::unavailable);
  EXPECT_TRUE(r.error().details.contains("not_owner"));
  auto ok = ask<model::Result<Verdicts>>([&](auto reply) {
    engine->ingest_forwarded({reading(mine, "t", 1)}, IngestMode::committed, std::move(reply));
  });
  EXPECT_TRUE(ok);
  EXPECT_EQ(count("SELECT COUNT(*) FROM latest_metrics WHERE device_id = 1"), 1);
}

TEST_F(EngineCluster, AnAdoptedPartitionKeepsItsOpenAlertAndItsNewOwnerDoesNotRaiseItAgain) {
  // The previous owner (a single node here) raised an alert for `mine` and stopped.
  start_engine();
  ASSERT_TRUE(create_rule(rule("t", model::Condition::gt, 50)));
  ASSERT_TRUE(ingest({reading(mine, "t", 60)}));
  settle();
  ASSERT_EQ(count("SELECT COUNT(*) FROM alerts"), 1);
  engine.reset();
  recorder.clear();
  // The new owner adopts the partition: the value still over the threshold raises nothing new.
  start_clustered();
  ASSERT_TRUE(ingest({reading(mine, "t", 70)}));
  settle();
  EXPECT_EQ(count("SELECT COUNT(*) FROM alerts"), 1);
  // Once released, its readings are forwarded rather than evaluated here.
  engine->release_partitions({partition_of(mine, kPartitions)});
  ASSERT_TRUE(ingest({reading(mine, "t", 80)}));
  EXPECT_EQ(forwarder.calls.size(), 1u);
  EXPECT_TRUE(engine->owned_partitions().empty());
}

TEST_F(EngineCluster, AnAdoptedPartitionResumesItsDurationWindowsAndOnlyThose) {
  // The previous owner saw both devices' condition start holding, under a 2 s duration, and
  // died before it fired. The new owner adopts `mine`'s partition only: `mine` fires when its
  // window's 2 s are up, without a new reading; `theirs`, not owned here, does not.
  start_engine();
  auto r = rule("t", model::Condition::gt, 50);
  r.duration = std::chrono::seconds(2);
  ASSERT_TRUE(create_rule(r));
  ASSERT_TRUE(ingest({reading(mine, "t", 60), reading(theirs, "t", 61)}));
  settle();
  ASSERT_EQ(count("SELECT COUNT(*) FROM rule_windows"), 2);
  engine.reset();
  recorder.clear();
  start_clustered();
  std::vector<model::AlertEvent> raised;
  for (int i = 0; i < 100 && raised.empty(); ++i) {  // the engine ticks once a second
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    settle();
    raised = recorder.bodies<model::AlertEvent>();
  }
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].device_id, mine);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // another tick or two
  settle();
  EXPECT_EQ(recorder.bodies<model::AlertEvent>().size(), 1u) << "theirs is not evaluated here";
  EXPECT_EQ(count("SELECT COUNT(*) FROM rule_windows WHERE device_id = " +
                  std::to_string(theirs)),
            1) << "kept for its owner";
}

TEST_F(EngineCluster, ARuleCreatedHereIsStoredAtOnceAndAnnounced) {
  start_clustered();
  auto r = create_rule(rule("t", model::Condition::gt, 50));
  ASSERT_TRUE(r);
  EXPECT_GT(r->id, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM alert_rules"), 1);
  settle();
  std::lock_guard lock(forwarder.mu);
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes.back().kind, Change::Kind::rules);
}

}  // namespace
}  // namespace valtronics::engine::test
