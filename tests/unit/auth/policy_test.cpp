// Tests of the authorization policy (auth/policy): which roles see every device, and the REST
// role matrix (may, refusal) for every role and action.
#include "auth/policy.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace valtronics::auth {
namespace {

Claims of(Role role, bool all_devices = false, std::vector<std::int64_t> devices = {}) {
  Claims c;
  c.sub = "someone";
  c.role = role;
  c.all_devices = all_devices;
  c.devices = std::move(devices);
  return c;
}

constexpr Role kRoles[] = {Role::admin, Role::operator_, Role::analyst, Role::user, Role::device};
constexpr Action kActions[] = {Action::read, Action::write, Action::respond, Action::view_stats};

TEST(PolicySeesEveryDevice, AdminsOperatorsAndStarTokensButNeverDevices) {
  EXPECT_TRUE(sees_every_device(of(Role::admin)));
  EXPECT_TRUE(sees_every_device(of(Role::operator_)));
  EXPECT_FALSE(sees_every_device(of(Role::analyst, false, {1, 2})));
  EXPECT_TRUE(sees_every_device(of(Role::analyst, true)));
  EXPECT_FALSE(sees_every_device(of(Role::user, false, {1})));
  EXPECT_TRUE(sees_every_device(of(Role::user, true)));
  EXPECT_FALSE(sees_every_device(of(Role::device)));
  EXPECT_FALSE(sees_every_device(of(Role::device, true)));  // "*" never widens a device token
}

TEST(PolicyMay, RoleMatrix) {
  // The matrix of docs/rest.md, row by row.
  const std::set<std::pair<Role, Action>> allowed{
      {Role::admin, Action::read},         {Role::admin, Action::write},
      {Role::admin, Action::respond},      {Role::admin, Action::view_stats},
      {Role::operator_, Action::read},     {Role::operator_, Action::write},
      {Role::operator_, Action::respond},  {Role::analyst, Action::read},
      {Role::analyst, Action::respond},    {Role::user, Action::read},
  };
  for (Role r : kRoles) {
    for (Action a : kActions) {
      const bool expected = allowed.count({r, a}) > 0;
      EXPECT_EQ(may(of(r), a), expected)
          << to_string(r) << " action " << static_cast<int>(a);
      // What a token lists or "*" changes nothing here: devices are the engine's filter.
      EXPECT_EQ(may(of(r, true, {1, 2}), a), expected) << to_string(r);
    }
  }
}

TEST(PolicyRefusal, EachActionSaysWhoMay) {
  EXPECT_EQ(refusal(Action::read), "device tokens may only ingest telemetry");
  EXPECT_EQ(refusal(Action::write), "admin or operator token required");
  EXPECT_EQ(refusal(Action::respond), "admin, operator or analyst token required");
  EXPECT_EQ(refusal(Action::view_stats), "admin token required");
}

TEST(PolicySeesMore, WideningIsNoticedNarrowingIsNot) {
  EXPECT_TRUE(sees_more(of(Role::user, false, {1, 2}), of(Role::user, false, {1})));
  EXPECT_FALSE(sees_more(of(Role::user, false, {1}), of(Role::user, false, {1, 2})));
  EXPECT_TRUE(sees_more(of(Role::user, true), of(Role::user, false, {1})));
  EXPECT_FALSE(sees_more(of(Role::admin), of(Role::operator_)));
  EXPECT_FALSE(sees_more(of(Role::device), of(Role::user, false, {1})));
}

}  // namespace
}  // namespace valtronics::auth
