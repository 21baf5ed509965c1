// Unit tests of the error and close code catalogue: complete, consistent, and documented.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "protocol/errors.hpp"

namespace valtronics::protocol {
namespace {

TEST(ErrorCatalogue, HasEveryCodeOnceInEnumOrder) {
  const auto cat = error_catalogue();
  ASSERT_EQ(cat.size(), static_cast<std::size_t>(ErrorCode::internal_error) + 1);
  for (std::size_t i = 0; i < cat.size(); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(cat[i].code), i) << cat[i].name;
  }
}

TEST(ErrorCatalogue, NamesAreUniqueSnakeCaseAndDescribed) {
  std::set<std::string_view> names;
  for (const auto& e : error_catalogue()) {
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate " << e.name;
    EXPECT_FALSE(e.name.empty());
    for (char c : e.name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << e.name;
    EXPECT_FALSE(e.description.empty()) << e.name;
    EXPECT_EQ(e.description.find('\n'), std::string_view::npos) << e.name;
  }
}

TEST(ErrorCatalogue, ToStringAndDescribeMatchTheTable) {
  for (const auto& e : error_catalogue()) {
    EXPECT_EQ(to_string(e.code), e.name);
    EXPECT_EQ(describe(e.code), e.description);
  }
}

TEST(ErrorCatalogue, WireNamesOfWellKnownCodes) {
  // Names that clients match on (the spec's handleAuthResponse checks 'invalid_token').
  EXPECT_EQ(to_string(ErrorCode::invalid_json), "invalid_json");
  EXPECT_EQ(to_string(ErrorCode::invalid_token), "invalid_token");
  EXPECT_EQ(to_string(ErrorCode::missing_token), "missing_token");
  EXPECT_EQ(to_string(ErrorCode::token_expired), "token_expired");
  EXPECT_EQ(to_string(ErrorCode::token_not_yet_valid), "token_not_yet_valid");
  EXPECT_EQ(to_string(ErrorCode::unknown_filter), "unknown_filter");
  EXPECT_EQ(to_string(ErrorCode::invalid_filter), "invalid_filter");
  EXPECT_EQ(to_string(ErrorCode::not_authenticated), "not_authenticated");
  EXPECT_EQ(to_string(ErrorCode::forbidden), "forbidden");
  EXPECT_EQ(to_string(ErrorCode::rate_limited), "rate_limited");
  EXPECT_EQ(to_string(ErrorCode::batch_too_large), "batch_too_large");
  EXPECT_EQ(to_string(ErrorCode::nested_batch), "nested_batch");
  EXPECT_EQ(to_string(ErrorCode::internal_error), "internal_error");
}

TEST(CloseCatalogue, ListsEveryCloseCodeOnce) {
  const std::set<std::uint16_t> expected{
      close_code::normal,        close_code::going_away,          close_code::too_big,
      close_code::unsupported_data,
      close_code::auth_failed,   close_code::token_expired,       close_code::rate_limit_abuse,
      close_code::slow_consumer, close_code::idle_timeout,        close_code::too_many_connections};
  std::set<std::uint16_t> seen;
  std::set<std::string_view> names;
  for (const auto& c : close_catalogue()) {
    EXPECT_TRUE(seen.insert(c.code).second) << "duplicate " << c.code;
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate " << c.name;
    EXPECT_FALSE(c.description.empty()) << c.code;
  }
  EXPECT_EQ(seen, expected);
}

TEST(CloseCatalogue, ValuesFromTheIssue) {
  EXPECT_EQ(close_code::auth_failed, 4001);
  EXPECT_EQ(close_code::token_expired, 4003);
  EXPECT_EQ(close_code::rate_limit_abuse, 4008);
  EXPECT_EQ(close_code::slow_consumer, 4009);
  EXPECT_EQ(close_code::idle_timeout, 4010);
  EXPECT_EQ(close_code::too_many_connections, 4029);
  EXPECT_EQ(close_code::too_big, 1009);
  EXPECT_EQ(close_code::unsupported_data, 1003);
}

TEST(CloseCatalogue, ApplicationCodesInTheApplicationRange) {
  for (const auto& c : close_catalogue()) {
    EXPECT_TRUE((c.code >= 1000 && c.code <= 1015) || (c.code >= 4000 && c.code <= 4999)) << c.code;
  }
}

// docs/protocol.md must list every error code and close code. Located from this source file so the
// test works from any build directory; skipped until the docs exist.
TEST(Catalogue, EveryCodeIsDocumented) {
  const auto docs = std::filesystem::path(VALTRONICS_SOURCE_DIR) / "docs" /
                    "protocol.md";
  std::ifstream in(docs);
  if (!in) GTEST_SKIP() << docs << " not found";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  for (const auto& e : error_catalogue()) {
    EXPECT_NE(text.find("`" + std::string(e.name) + "`"), std::string::npos)
        << e.name << " not in " << docs;
  }
  for (const auto& c : close_catalogue()) {
    EXPECT_NE(text.find("`" + std::to_string(c.code) + "`"), std::string::npos)
        << c.code << " not in " << docs;
  }
}

}  // namespace
}  // namespace valtronics::protocol
