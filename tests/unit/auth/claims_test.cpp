// The authorization policy as a table: every role against every channel and against covered and
// uncovered devices, plus ingest rights. A change to the policy shows up here as a changed row.

#include "auth/claims.hpp"

#include <gtest/gtest.h>

namespace valtronics::auth {
namespace {

using model::Channel;

Claims make(Role role, std::vector<std::int64_t> devices = {}, bool all = false,
            std::optional<std::int64_t> device_id = std::nullopt) {
  Claims c;
  c.sub = "someone";
  c.role = role;
  c.devices = std::move(devices);
  c.all_devices = all;
  c.device_id = device_id;
  return c;
}

TEST(RoleTest, NamesRoundTrip) {
  for (Role r : {Role::admin, Role::operator_, Role::analyst, Role::user, Role::device}) {
    auto back = role_from_string(to_string(r));
    ASSERT_TRUE(back.has_value()) << to_string(r);
    EXPECT_EQ(*back, r);
  }
  EXPECT_EQ(to_string(Role::operator_), "operator");
  EXPECT_FALSE(role_from_string("operator_").has_value());
  EXPECT_FALSE(role_from_string("Admin").has_value());
  EXPECT_FALSE(role_from_string("").has_value());
  EXPECT_FALSE(role_from_string("root").has_value());
}

struct ChannelRow {
  Role role;
  bool telemetry, alerts, devices, system;
};

TEST(PolicyTest, ChannelMatrix) {
  const ChannelRow rows[] = {
      {Role::admin, true, true, true, true},
      {Role::operator_, true, true, true, true},
      {Role::analyst, true, true, true, false},
      {Role::user, true, true, true, false},
      {Role::device, false, false, false, false},
  };
  for (const auto& row : rows) {
    // Device lists do not change channel rights.
    for (bool all : {false, true}) {
      Claims c = make(row.role, {1}, all, row.role == Role::device ? std::optional<std::int64_t>(1)
                                                                   : std::nullopt);
      SCOPED_TRACE(std::string(to_string(row.role)) + (all ? " devices=*" : " devices=[1]"));
      EXPECT_EQ(may_subscribe(c, Channel::telemetry), row.telemetry);
      EXPECT_EQ(may_subscribe(c, Channel::alerts), row.alerts);
      EXPECT_EQ(may_subscribe(c, Channel::devices), row.devices);
      EXPECT_EQ(may_subscribe(c, Channel::system), row.system);
    }
  }
}

TEST(PolicyTest, DeviceVisibilityMatrix) {
  struct Row {
    Claims claims;
    bool sees_1, sees_2, sees_3;
  };
  const Row rows[] = {
      {make(Role::admin), true, true, true},
      {make(Role::admin, {1}), true, true, true},
      {make(Role::operator_), true, true, true},
      {make(Role::analyst, {1, 2}), true, true, false},
      {make(Role::analyst, {}, true), true, true, true},
      {make(Role::analyst), false, false, false},
      {make(Role::user, {2}), false, true, false},
      {make(Role::user, {}, true), true, true, true},
      {make(Role::user), false, false, false},
      {make(Role::device, {1, 2, 3}, true, 1), false, false, false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(to_string(row.claims.role)));
    EXPECT_EQ(may_see_device(row.claims, 1), row.sees_1);
    EXPECT_EQ(may_see_device(row.claims, 2), row.sees_2);
    EXPECT_EQ(may_see_device(row.claims, 3), row.sees_3);
  }
}

TEST(PolicyTest, RoleChannelDeviceCombined) {
  // What a subscription to (channel, device) needs: the channel right and the device right.
  auto allowed = [](const Claims& c, Channel ch, std::int64_t dev) {
    return may_subscribe(c, ch) && may_see_device(c, dev);
  };
  const Claims user = make(Role::user, {10});
  EXPECT_TRUE(allowed(user, Channel::telemetry, 10));
  EXPECT_FALSE(allowed(user, Channel::telemetry, 11));
  EXPECT_TRUE(allowed(user, Channel::alerts, 10));
  EXPECT_FALSE(allowed(user, Channel::system, 10));
  const Claims op = make(Role::operator_);
  for (Channel ch : {Channel::telemetry, Channel::alerts, Channel::devices, Channel::system}) {
    EXPECT_TRUE(allowed(op, ch, 12345));
  }
  const Claims dev = make(Role::device, {}, false, 10);
  for (Channel ch : {Channel::telemetry, Channel::alerts, Channel::devices, Channel::system}) {
    EXPECT_FALSE(allowed(dev, ch, 10));
  }
}

TEST(PolicyTest, Ingest) {
  EXPECT_TRUE(may_ingest(make(Role::admin), 5));
  EXPECT_TRUE(may_ingest(make(Role::operator_), 5));
  EXPECT_FALSE(may_ingest(make(Role::analyst, {}, true), 5));
  EXPECT_FALSE(may_ingest(make(Role::user, {5}), 5));
  EXPECT_TRUE(may_ingest(make(Role::device, {}, false, 5), 5));
  EXPECT_FALSE(may_ingest(make(Role::device, {}, false, 5), 6));
  // A device token without device_id (never produced by the verifier) ingests nothing.
  EXPECT_FALSE(may_ingest(make(Role::device, {5}, true), 5));
}

TEST(PolicyTest, AdminOnly) {
  EXPECT_TRUE(is_admin(make(Role::admin)));
  EXPECT_FALSE(is_admin(make(Role::operator_)));
  EXPECT_FALSE(is_admin(make(Role::analyst, {}, true)));
  EXPECT_FALSE(is_admin(make(Role::user, {}, true)));
  EXPECT_FALSE(is_admin(make(Role::device, {}, false, 1)));
}

}  // namespace
}  // namespace valtronics::auth
