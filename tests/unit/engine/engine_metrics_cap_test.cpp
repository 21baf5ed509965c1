// ingest.max_metrics_per_device: a device token cannot create metrics without bound.
#include <gtest/gtest.h>

#include "engine/engine_fixture.hpp"

namespace valtronics::engine::test {
namespace {

using EngineMetricsCap = EngineTest;

TEST_F(EngineMetricsCap, ANewMetricBeyondTheCapIsRefusedWhole) {
  cfg.ingest.max_metrics_per_device = 2;
  start_engine();
  ASSERT_TRUE(ingest({reading(1, "a", 1)}));
  ASSERT_TRUE(ingest({reading(1, "b", 1)}));
  ASSERT_TRUE(ingest({reading(1, "a", 2)}));  // known metrics stay accepted
  auto r = ingest({reading(2, "a", 1), reading(1, "c", 1)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, model::DomainError::Kind::invalid);
  EXPECT_NE(r.error().message.find("max_metrics_per_device"), std::string::npos);
  // Nothing of the refused request was applied: device 2 still has room for two metrics.
  ASSERT_TRUE(ingest({reading(2, "x", 1), reading(2, "y", 1)}));
  EXPECT_FALSE(ingest({reading(2, "z", 1)}));
}

}  // namespace
}  // namespace valtronics::engine::test
