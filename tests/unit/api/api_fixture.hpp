// The HTTP API under test as the server runs it, without sockets: a real engine::Engine on a
// temporary SQLite file (its own thread and writer), a hub over a local io_context, a connection
// registry and a token verifier, gathered in an api::Context. call() builds an api::Request,
// hands it to api::handle and waits for the one response (handlers answer from the engine's
// thread), with a generous deadline only a hung engine reaches.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/context.hpp"
#include "api/query.hpp"
#include "api/request.hpp"
#include "api/routes.hpp"
#include "auth/claims.hpp"
#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "engine/engine.hpp"
#include "hub/hub.hpp"
#include "session/connection_registry.hpp"
#include "support/temp_db_file.hpp"

namespace valtronics::api::test {

inline constexpr const char* kSecret = "api-unit-test-secret";

inline auth::Claims claims_of(auth::Role role, std::vector<std::int64_t> devices = {},
                              bool all_devices = false) {
  auth::Claims c;
  c.sub = std::string(auth::to_string(role)) + "-1";
  c.role = role;
  c.devices = std::move(devices);
  c.all_devices = all_devices;
  if (role == auth::Role::device) c.device_id = c.devices.empty() ? 1 : c.devices.front();
  return c;
}

inline std::string token_for(const auth::Claims& c) {
  return auth::sign_token(kSecret, c, std::chrono::hours(1), util::Clock::now());
}
inline std::string token_for(auth::Role role, std::vector<std::int64_t> devices = {},
                             bool all_devices = false) {
  return token_for(claims_of(role, std::move(devices), all_devices));
}

// A response, with the fields tests look at.
struct Reply {
  int status = 0;
  boost::json::value body;
  Response response;
  std::string code() const {
    const auto* e = body.is_object() ? body.as_object().if_contains("error") : nullptr;
    return e ? std::string(e->at("code").as_string()) : std::string();
  }
  std::string message() const {
    return std::string(body.at("error").at("message").as_string());
  }
  std::string field() const {
    const auto* f = body.at("error").at("details").as_object().if_contains("field");
    return f ? std::string(f->as_string()) : std::string("<none>");
  }
  const boost::json::value& data() const { return body.at("data"); }
};

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() {
    cfg.db = file.str();
    cfg.auth.jwt_secret = kSecret;
  }

  void SetUp() override { start(); }

  // Tests adjust `cfg` only after stop() (the engine's thread reads it), then start() again.
  void stop() {
    ctx.reset();
    engine.reset();
  }
  void start() {
    stop();
    engine = std::make_unique<engine::Engine>(cfg, hub);
    engine->start();
    abuse = std::make_unique<auth::AbuseMonitor>(auth::AbuseMonitor::Options{
        cfg.limits.auth_failures_before_ban, cfg.limits.auth_failure_window,
        cfg.limits.ban_duration});
    ctx = std::make_unique<Context>(Context{cfg, verifier, *engine, connections, hub, *abuse});
  }

  // One request through the route table; waits for its response.
  Reply call(Method m, std::string target, std::optional<std::string> token = std::nullopt,
             std::string body = {}) {
    Request req;
    req.method = m;
    const auto t = split_target(target);
    req.path = std::string(t.path);
    req.query = std::string(t.query);
    if (token) req.authorization = "Bearer " + *token;
    req.body = std::move(body);
    return send(req);
  }
  Reply send(const Request& req) {
    auto promise = std::make_shared<std::promise<Response>>();
    auto future = promise->get_future();
    auto answers = std::make_shared<int>(0);
    handle(req, *ctx, [promise, answers](Response r) {
      if (++*answers == 1) promise->set_value(std::move(r));
      else ADD_FAILURE() << "answered twice";
    });
    if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready)
      throw std::runtime_error("no response within 20 s");
    Reply out;
    out.response = future.get();
    out.status = out.response.status;
    out.body = out.response.body;
    return out;
  }
  // The same with an admin token, expecting success: the data.
  boost::json::value ok(Method m, std::string target, std::string body = {}) {
    auto r = call(m, std::move(target), token_for(auth::Role::admin), std::move(body));
    EXPECT_LT(r.status, 300) << boost::json::serialize(r.body);
    return r.status < 300 ? r.data() : boost::json::value();
  }

  store::TempDbFile file;
  config::Config cfg;
  auth::JwtVerifier verifier{kSecret, std::chrono::seconds(5)};
  session::ConnectionRegistry connections{10, 10, 10};
  std::unique_ptr<auth::AbuseMonitor> abuse;  // made by start() from cfg.limits
  boost::asio::io_context hub_ioc;
  hub::Hub hub{{&hub_ioc}};
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<Context> ctx;  // last: refers to the members above
};

}  // namespace valtronics::api::test
