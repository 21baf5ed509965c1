// engine/alert_text: alert messages from bounded parts, and engine/message_bounds: the largest
// stored message those bounds allow (issue 10, defect 3).
#include "engine/alert_text.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "config/limits.hpp"
#include "engine/message_bounds.hpp"
#include "model/events.hpp"
#include "protocol/serialize.hpp"
#include "protocol/ws_frame.hpp"
#include "util/text.hpp"

namespace valtronics::engine {
namespace {

TEST(AlertText, ThresholdMessage) {
  EXPECT_EQ(alert_text::threshold("temperature", 31.5, "°C", model::Condition::gt, 30),
            "temperature is 31.5 °C, above threshold 30");
  EXPECT_EQ(alert_text::threshold("rpm", 1e7, "", model::Condition::lte, 0.25),
            "rpm is 1e+07, at or below threshold 0.25");
}

TEST(AlertText, OfflineMessage) {
  EXPECT_EQ(alert_text::offline("pump 3", "No telemetry for 5m"), "pump 3: No telemetry for 5m");
}

TEST(AlertText, EveryPartIsCutToItsBoundOnACharacterBoundary) {
  // What an older database may still hold: a 1 MB unit (defect 3), a huge metric name.
  const std::string huge_unit(1'000'000, 'u');
  const std::string huge_metric(100'000, 'm');
  const auto m = alert_text::threshold(huge_metric, 1, huge_unit, model::Condition::gt, 2);
  EXPECT_EQ(m, std::string(limits::kMaxMetricChars, 'm') + " is 1 " +
                   std::string(limits::kMaxUnitChars, 'u') + ", above threshold 2");
  // Multi-byte characters: counted as characters, never split.
  std::string euros;
  for (int i = 0; i < 30; ++i) euros += "€";
  const auto e = alert_text::threshold("t", 1, euros, model::Condition::gt, 2);
  EXPECT_TRUE(protocol::ws::valid_utf8(e));
  EXPECT_EQ(util::code_points(e), util::code_points("t is 1 , above threshold 2") + limits::kMaxUnitChars);
  const auto o = alert_text::offline(std::string(5000, 'n'), std::string(50'000, 'r'));
  EXPECT_EQ(o.size(), limits::kMaxNameChars + 2 + limits::kMaxReasonChars);
  EXPECT_EQ(alert_text::reason(std::string(50'000, 'r')).size(), limits::kMaxReasonChars);
}

TEST(AlertText, NumbersHaveABoundedWidth) {
  for (double v : {-std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
                   -std::numeric_limits<double>::denorm_min(), -1.234567e-300, 123456789.0})
    EXPECT_LE(alert_text::number(v).size(), alert_text::kMaxNumberChars) << v;
}

TEST(MessageBounds, LargestStoredMessageHoldsEveryAlertTheEngineCanBuild) {
  const std::size_t largest = largest_stored_message_bytes();
  std::printf("largest stored message: %zu bytes\n", largest);
  // An alert of the longest parts a request can store, each character one JSON escapes to six
  // bytes, stays below it.
  model::AlertEvent a;
  a.alert_id = std::numeric_limits<std::int64_t>::max();
  a.device_id = std::numeric_limits<std::int64_t>::max();
  a.severity = model::Severity::critical;
  a.title = std::string(limits::kMaxNameChars, '\n');
  a.message = alert_text::offline(std::string(limits::kMaxNameChars, '"'),
                                  std::string(limits::kMaxReasonChars, '\x1f'));
  a.metadata = {{"reason", alert_text::reason(std::string(limits::kMaxReasonChars, '\x02'))},
                {"last_seen", "2026-01-01T12:00:00.000Z"}};
  EXPECT_LT(protocol::serialize_event(a).size() + 30, largest);
  // And it is far below the default budget, well above a typical alert.
  EXPECT_LT(largest, std::size_t{1} << 20);
  EXPECT_GT(largest, 8000u);
}

}  // namespace
}  // namespace valtronics::engine
