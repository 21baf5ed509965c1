// session/alert_cover: what a connection's alerts subscriptions have delivered (covers), alerts
// sent outside every cover, and the replay's own record (sent_at_or_after). Pure bookkeeping.
#include "session/alert_cover.hpp"

#include <gtest/gtest.h>

#include "config/limits.hpp"
#include "support/session_harness.hpp"

namespace valtronics::session::test {
namespace {

using model::AlertStatus;
using model::AlertType;
using model::Channel;
using model::Severity;

protocol::Filters alert_filters(std::vector<Severity> s = {}, std::vector<AlertType> t = {}) {
  protocol::Filters f;
  f.severities = std::move(s);
  f.alert_types = std::move(t);
  return f;
}

TEST(AlertsLedger, CoversOnlyTheAlertsSubscriptionsThatHaveAStart) {
  AlertsLedger ledger;
  Subscriptions subs{{{Channel::alerts, hub::kAllDevices}, alert_filters({Severity::critical})},
                     {{Channel::alerts, 2}, alert_filters({}, {AlertType::anomaly})},
                     {{Channel::alerts, 3}, alert_filters()},
                     {{Channel::telemetry, 5}, {}}};
  ledger.set_start(hub::kAllDevices, 10);
  ledger.set_start(2, 20);
  ledger.set_start(5, 50);  // no alerts subscription of device 5: no cover
  const auto covers = ledger.covers(subs);
  ASSERT_EQ(covers.size(), 2u);
  EXPECT_EQ(covers[0].device, hub::kAllDevices);
  EXPECT_EQ(covers[0].start, 10);
  EXPECT_EQ(covers[0].severities, std::vector<Severity>{Severity::critical});
  EXPECT_EQ(covers[1].device, 2);
  EXPECT_EQ(covers[1].start, 20);
  EXPECT_EQ(covers[1].alert_types, std::vector<AlertType>{AlertType::anomaly});
}

TEST(AlertsLedger, AlreadySentWithinACover) {
  AlertsLedger ledger;
  const std::vector<AlertCover> cover{{2, {Severity::critical}, {}, 10}};
  EXPECT_TRUE(ledger.already_sent(stored_alert(11, 2, Severity::critical), cover));
  EXPECT_FALSE(ledger.already_sent(stored_alert(10, 2, Severity::critical), cover)) << "at start";
  EXPECT_FALSE(ledger.already_sent(stored_alert(11, 3, Severity::critical), cover)) << "device";
  EXPECT_FALSE(ledger.already_sent(stored_alert(11, 2, Severity::info), cover)) << "severity";
  const std::vector<AlertCover> every{{hub::kAllDevices, {}, {AlertType::manual}, 0}};
  EXPECT_TRUE(ledger.already_sent(stored_alert(1, 9, Severity::info, AlertStatus::resolved, AlertType::manual), every));
  EXPECT_FALSE(ledger.already_sent(stored_alert(1, 9, Severity::info, AlertStatus::active, AlertType::device), every));
}

TEST(AlertsLedger, NoteSentRemembersAlertsOutsideEveryCoverByHighestState) {
  AlertsLedger ledger;
  Subscriptions subs{{{Channel::alerts, hub::kAllDevices}, alert_filters()}};
  ledger.set_start(hub::kAllDevices, 100);
  ledger.note_sent(alert_event(5, 1, Severity::warning, AlertStatus::acknowledged), subs);
  ledger.note_sent(alert_event(5, 1, Severity::warning, AlertStatus::active), subs);  // stale
  EXPECT_TRUE(ledger.already_sent(stored_alert(5, 1, Severity::warning, AlertStatus::active), {}));
  EXPECT_TRUE(ledger.already_sent(stored_alert(5, 1, Severity::warning, AlertStatus::acknowledged), {}));
  EXPECT_FALSE(ledger.already_sent(stored_alert(5, 1, Severity::warning, AlertStatus::resolved), {}));
  EXPECT_FALSE(ledger.already_sent(stored_alert(6, 1), {}));
}

TEST(AlertsLedger, NoteSentForgetsNothingThatACoverExplains) {
  AlertsLedger ledger;
  Subscriptions subs{{{Channel::alerts, hub::kAllDevices}, alert_filters()}};
  ledger.set_start(hub::kAllDevices, 100);
  ledger.note_sent(alert_event(101, 1), subs);  // within the cover: not remembered one by one
  ledger.forget(hub::kAllDevices);
  EXPECT_FALSE(ledger.already_sent(stored_alert(101, 1), ledger.covers(subs)))
      << "once the cover is gone, it does not say the alert was sent";
}

TEST(AlertsLedger, ForgetAllDropsEveryCover) {
  AlertsLedger ledger;
  Subscriptions subs{{{Channel::alerts, hub::kAllDevices}, alert_filters()},
                     {{Channel::alerts, 4}, alert_filters()}};
  ledger.set_start(hub::kAllDevices, 1);
  ledger.set_start(4, 1);
  EXPECT_EQ(ledger.covers(subs).size(), 2u);
  ledger.forget(4);
  EXPECT_EQ(ledger.covers(subs).size(), 1u);
  ledger.forget_all();
  EXPECT_TRUE(ledger.covers(subs).empty());
}

TEST(AlertsLedger, RemembersOnlyTheNewestOtherSentAlerts) {
  AlertsLedger ledger;
  const Subscriptions none;
  for (std::int64_t id = 1; id <= static_cast<std::int64_t>(limits::kMaxOtherSentAlerts) + 1; ++id)
    ledger.note_sent(alert_event(id, 1), none);
  EXPECT_FALSE(ledger.already_sent(stored_alert(1, 1), {})) << "the oldest is forgotten first";
  EXPECT_TRUE(ledger.already_sent(stored_alert(2, 1), {}));
  EXPECT_TRUE(ledger.already_sent(
      stored_alert(static_cast<std::int64_t>(limits::kMaxOtherSentAlerts) + 1, 1), {}));
}

TEST(AlertsLedger, SentAtOrAfter) {
  SentAlerts sent{{7, model::rank(AlertStatus::acknowledged)}};
  EXPECT_TRUE(sent_at_or_after(sent, 7, AlertStatus::active));
  EXPECT_TRUE(sent_at_or_after(sent, 7, AlertStatus::acknowledged));
  EXPECT_FALSE(sent_at_or_after(sent, 7, AlertStatus::resolved));
  EXPECT_FALSE(sent_at_or_after(sent, 8, AlertStatus::active));
  EXPECT_FALSE(sent_at_or_after({}, 7, AlertStatus::active));
}

TEST(AlertsLedger, RaiseToOnlyRaises) {
  std::atomic<std::int64_t> newest{10};
  raise_to(newest, 5);
  EXPECT_EQ(newest.load(), 10);
  raise_to(newest, 12);
  EXPECT_EQ(newest.load(), 12);
}

}  // namespace
}  // namespace valtronics::session::test
