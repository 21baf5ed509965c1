// Log lines: request targets without secrets, and the JSON line format.
#include "util/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>

#include <boost/json/parse.hpp>

namespace valtronics::util {
namespace {

TEST(LoggableTarget, MasksSecretParametersOnly) {
  EXPECT_EQ(loggable_target("/api/v1/devices?page=2&size=10"), "/api/v1/devices?page=2&size=10");
  EXPECT_EQ(loggable_target("/ws?token=eyJhbGc.x.y&channel=alerts"), "/ws?token=***&channel=alerts");
  EXPECT_EQ(loggable_target("/x?access_token=a&API_KEY=b&password=c&db_password=d&jwt=e"),
            "/x?access_token=***&API_KEY=***&password=***&db_password=***&jwt=***");
  EXPECT_EQ(loggable_target("/x?flag&token="), "/x?flag&token=***");
}

TEST(LoggableTarget, EscapesControlCharactersAndQuotes) {
  EXPECT_EQ(loggable_target("/a\nb\"c"), "/a\\x0ab\\x22c");
}

TEST(JsonFormatter, OneObjectPerLineWithConnAndReq) {
  auto f = json_formatter();
  spdlog::details::log_msg msg("", spdlog::level::info,
                               "http conn=12 req=12.3 client=127.0.0.1 \"GET /x\" 200");
  spdlog::memory_buf_t out;
  f->format(msg, out);
  const std::string line(out.data(), out.size());
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("level").as_string(), "info");
  EXPECT_EQ(v.at("conn").as_string(), "12");
  EXPECT_EQ(v.at("req").as_string(), "12.3");
  EXPECT_EQ(v.at("msg").as_string(), "http conn=12 req=12.3 client=127.0.0.1 \"GET /x\" 200");
  EXPECT_TRUE(v.at("time").as_string().ends_with("Z"));
}

TEST(JsonFormatter, NoConnFieldWithoutAConnection) {
  auto f = json_formatter();
  spdlog::details::log_msg msg("", spdlog::level::warn, "store writer: reconnected\tok");
  spdlog::memory_buf_t out;
  f->format(msg, out);
  const auto v = boost::json::parse(std::string(out.data(), out.size())).as_object();
  EXPECT_FALSE(v.contains("conn"));
  EXPECT_EQ(v.at("msg").as_string(), "store writer: reconnected\tok");
}

}  // namespace
}  // namespace valtronics::util
