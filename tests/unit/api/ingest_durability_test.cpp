// (issue 10, durability) Tests of api/ingest_durability: `?sync=true` answers 200 with what was
// stored once it is committed (another connection sees it at once), a bad `sync` is 400 naming
// it, and while the database is locked by another connection ingest is 503
// STORAGE_UNAVAILABLE with Retry-After and /health is degraded, until it recovers by itself.
#include <gtest/gtest.h>

#include <thread>

#include "api_fixture.hpp"
#include "store/db.hpp"

namespace valtronics::api {
namespace {

using namespace test;
using namespace std::chrono_literals;
using auth::Role;
namespace json = boost::json;

class IngestDurabilityApiTest : public ApiTest {
 protected:
  std::int64_t history_rows() {
    store::Database db = store::Database::open(file.str());
    store::Statement st = db.prepare("SELECT COUNT(*) FROM telemetry_history");
    return st.step() ? st.column_int(0) : -1;
  }
  bool wait_for_storage(bool available) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (engine->storage_available() != available) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
};

TEST_F(IngestDurabilityApiTest, SyncAnswers200WithWhatWasStoredOnceCommitted) {
  stop();  // the engine's thread reads cfg
  cfg.telemetry.retention = std::chrono::hours(1);
  start();
  auto r = call(Method::post, "/api/v1/telemetry?sync=true", token_for(Role::admin),
                R"({"device_id":4,"telemetry":{"t":{"value":1},"h":{"value":2}}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, json::parse(R"({"success":true,"data":{"accepted":2,"stored":2}})"));
  EXPECT_EQ(history_rows(), 2);  // committed before the answer
  auto b = call(Method::post, "/api/v1/telemetry/batch?sync=1", token_for(Role::admin),
                R"([{"device_id":4,"metric_name":"t","metric_value":3}])");
  EXPECT_EQ(b.status, 200);
  EXPECT_EQ(history_rows(), 3);
  EXPECT_EQ(call(Method::post, "/api/v1/telemetry?sync=false", token_for(Role::admin),
                 R"({"device_id":4,"metric_name":"t","metric_value":4})")
                .status,
            202);
}

TEST_F(IngestDurabilityApiTest, ABadSyncValueIs400NamingItAndAppliesNothing) {
  auto r = call(Method::post, "/api/v1/telemetry?sync=yes", token_for(Role::admin),
                R"({"device_id":6,"metric_name":"t","metric_value":1})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "VALIDATION_ERROR");
  EXPECT_EQ(r.field(), "sync");
  EXPECT_EQ(call(Method::get, "/api/v1/devices/6", token_for(Role::admin)).status, 404);
}

// Takes about 6 s: the writer waits out SQLite's 5 s busy timeout before it calls the storage
// unavailable.
TEST_F(IngestDurabilityApiTest, LockedDatabase503WithRetryAfterThenRecoversByItself) {
  store::Database other = store::Database::open(file.str());
  auto lock = std::make_unique<store::Transaction>(other);
  const char* reading = R"({"device_id":7,"metric_name":"t","metric_value":1})";
  EXPECT_EQ(call(Method::post, "/api/v1/telemetry", token_for(Role::admin), reading).status, 202);
  ASSERT_TRUE(wait_for_storage(false));
  auto r = call(Method::post, "/api/v1/telemetry", token_for(Role::admin), reading);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.code(), "STORAGE_UNAVAILABLE");
  EXPECT_EQ(r.response.header("Retry-After"), "5");
  EXPECT_EQ(r.body.at("error").at("details").at("retry_after_seconds"), 5);
  EXPECT_NE(std::string(r.body.at("error").at("details").at("reason").as_string()).find("locked"),
            std::string::npos);
  auto h = call(Method::get, "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body.at("status"), "degraded");
  EXPECT_EQ(h.body.at("storage").at("writable"), false);
  lock->commit();
  lock.reset();
  ASSERT_TRUE(wait_for_storage(true));
  EXPECT_EQ(call(Method::get, "/health").body.at("status"), "ok");
  EXPECT_EQ(call(Method::post, "/api/v1/telemetry", token_for(Role::admin), reading).status, 202);
}

}  // namespace
}  // namespace valtronics::api
