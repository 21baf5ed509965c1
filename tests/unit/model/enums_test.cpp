// model/enums.hpp and enum_names.hpp: every name table round-trips, unknown names are refused,
// names_list and all_values follow the enum's order, rank orders alert states, and
// empty_or_contains reads an empty list as "no restriction".
#include "model/enums.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace valtronics::model {
namespace {

template <class E>
void expect_round_trip(std::initializer_list<std::pair<E, std::string_view>> expected) {
  ASSERT_EQ(EnumNames<E>::names.size(), expected.size());
  std::set<std::string_view> seen;
  for (const auto& [value, name] : expected) {
    EXPECT_EQ(to_string(value), name);
    auto back = from_string<E>(name);
    ASSERT_TRUE(back.has_value()) << name;
    EXPECT_EQ(*back, value) << name;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
  }
  for (E v : all_values<E>()) EXPECT_EQ(from_string<E>(to_string(v)), v);
}

template <class E>
void expect_refused(std::string_view valid) {
  EXPECT_FALSE(from_string<E>("").has_value());
  EXPECT_FALSE(from_string<E>("bogus").has_value());
  // Exact and case-sensitive: no prefix, no padding, no other case.
  std::string upper(valid);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(from_string<E>(upper).has_value()) << upper;
  EXPECT_FALSE(from_string<E>(std::string(valid) + " ").has_value());
  EXPECT_FALSE(from_string<E>(" " + std::string(valid)).has_value());
  EXPECT_FALSE(from_string<E>(valid.substr(0, valid.size() - 1)).has_value());
}

TEST(ModelEnums, ChannelNames) {
  expect_round_trip<Channel>({{Channel::telemetry, "telemetry"},
                              {Channel::alerts, "alerts"},
                              {Channel::devices, "devices"},
                              {Channel::system, "system"}});
  EXPECT_EQ(kChannelCount, EnumNames<Channel>::names.size());
  expect_refused<Channel>("alerts");
  EXPECT_FALSE(from_string<Channel>("alert").has_value());
}

TEST(ModelEnums, SeverityNames) {
  expect_round_trip<Severity>(
      {{Severity::info, "info"}, {Severity::warning, "warning"}, {Severity::critical, "critical"}});
  expect_refused<Severity>("critical");
  EXPECT_FALSE(from_string<Severity>("fatal").has_value());
}

TEST(ModelEnums, AlertTypeNames) {
  expect_round_trip<AlertType>({{AlertType::threshold, "threshold"},
                                {AlertType::anomaly, "anomaly"},
                                {AlertType::device, "device"},
                                {AlertType::system, "system"},
                                {AlertType::manual, "manual"}});
  expect_refused<AlertType>("threshold");
}

TEST(ModelEnums, AlertStatusNames) {
  expect_round_trip<AlertStatus>({{AlertStatus::active, "active"},
                                  {AlertStatus::acknowledged, "acknowledged"},
                                  {AlertStatus::resolved, "resolved"}});
  expect_refused<AlertStatus>("resolved");
}

TEST(ModelEnums, DeviceStatusNames) {
  expect_round_trip<DeviceStatus>({{DeviceStatus::online, "online"},
                                   {DeviceStatus::offline, "offline"},
                                   {DeviceStatus::warning, "warning"},
                                   {DeviceStatus::error, "error"},
                                   {DeviceStatus::maintenance, "maintenance"}});
  expect_refused<DeviceStatus>("maintenance");
  EXPECT_FALSE(from_string<DeviceStatus>("asleep").has_value());
}

TEST(ModelEnums, DeviceTypeNames) {
  expect_round_trip<DeviceType>({{DeviceType::sensor, "sensor"},
                                 {DeviceType::actuator, "actuator"},
                                 {DeviceType::gateway, "gateway"},
                                 {DeviceType::controller, "controller"},
                                 {DeviceType::monitor, "monitor"}});
  expect_refused<DeviceType>("sensor");
}

TEST(ModelEnums, ConditionNames) {
  expect_round_trip<Condition>({{Condition::gt, "gt"},
                                {Condition::gte, "gte"},
                                {Condition::lt, "lt"},
                                {Condition::lte, "lte"},
                                {Condition::eq, "eq"},
                                {Condition::ne, "ne"}});
  expect_refused<Condition>("ne");
  EXPECT_FALSE(from_string<Condition>("between").has_value());
  EXPECT_FALSE(from_string<Condition>(">").has_value());
}

TEST(ModelEnums, FromStringIsConstexpr) {
  static_assert(from_string<Severity>("warning") == Severity::warning);
  static_assert(!from_string<Severity>("Warning").has_value());
  static_assert(to_string(Channel::devices) == "devices");
  SUCCEED();
}

// The "must be one of" texts the REST API and the WebSocket protocol send (tests of both check
// them), in the order of the enum's values.
TEST(ModelEnums, NamesListInValueOrder) {
  EXPECT_EQ(names_list<Severity>(), "info, warning, critical");
  EXPECT_EQ(names_list<AlertType>(), "threshold, anomaly, device, system, manual");
  EXPECT_EQ(names_list<AlertStatus>(), "active, acknowledged, resolved");
  EXPECT_EQ(names_list<DeviceStatus>(), "online, offline, warning, error, maintenance");
  EXPECT_EQ(names_list<DeviceType>(), "sensor, actuator, gateway, controller, monitor");
  EXPECT_EQ(names_list<Condition>(), "gt, gte, lt, lte, eq, ne");
  EXPECT_EQ(names_list<Channel>(), "telemetry, alerts, devices, system");
}

TEST(ModelEnums, AllValuesInOrder) {
  const auto v = all_values<DeviceStatus>();
  ASSERT_EQ(v.size(), 5u);
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(static_cast<std::size_t>(v[i]), i);
  EXPECT_EQ(all_values<Channel>().size(), kChannelCount);
}

// An alert's state only moves forward: active < acknowledged < resolved.
TEST(ModelEnums, AlertStatusRankOrder) {
  EXPECT_EQ(rank(AlertStatus::active), 0);
  EXPECT_EQ(rank(AlertStatus::acknowledged), 1);
  EXPECT_EQ(rank(AlertStatus::resolved), 2);
  EXPECT_LT(rank(AlertStatus::active), rank(AlertStatus::acknowledged));
  EXPECT_LT(rank(AlertStatus::acknowledged), rank(AlertStatus::resolved));
}

TEST(ModelEnums, EmptyOrContains) {
  const std::vector<Severity> none;
  for (auto s : all_values<Severity>()) EXPECT_TRUE(empty_or_contains(none, s));
  const std::vector<Severity> some{Severity::warning, Severity::critical};
  EXPECT_FALSE(empty_or_contains(some, Severity::info));
  EXPECT_TRUE(empty_or_contains(some, Severity::warning));
  EXPECT_TRUE(empty_or_contains(some, Severity::critical));
  const std::vector<std::int64_t> ids{3};
  EXPECT_TRUE(empty_or_contains(ids, std::int64_t{3}));
  EXPECT_FALSE(empty_or_contains(ids, std::int64_t{4}));
}

}  // namespace
}  // namespace valtronics::model
