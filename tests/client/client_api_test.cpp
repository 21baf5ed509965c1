// The C++ client SDK's public API against the real server. Not a unit test: the Python test
// tests/integration/test_client_api.py starts `valtronics serve`, mints tokens and runs this
// binary with VALTRONICS_URL, VALTRONICS_HTTP, VALTRONICS_ADMIN_TOKEN and VALTRONICS_USER_TOKEN
// (a user covering device 1 only). It links valtronics_client alone: the SDK needs nothing of
// the server's code.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include "client/client.hpp"
#include "client/http_client.hpp"

namespace valtronics::client {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) throw std::runtime_error(std::string("missing env ") + name);
  return v;
}

// wss:// and https:// (test_tls.py): the CA of the server's test certificate.
TlsOptions tls_options() {
  TlsOptions t;
  if (const char* ca = std::getenv("VALTRONICS_CA_FILE")) t.ca_file = ca;
  return t;
}

Options options(const std::string& token) {
  Options o;
  o.url = env("VALTRONICS_URL") + "/ws";
  o.tls = tls_options();
  o.token = token;
  o.backoff.base = 50ms;
  o.backoff.cap = 200ms;
  return o;
}

void ingest(std::int64_t device, double temperature) {
  auto url = parse_url(env("VALTRONICS_HTTP"));
  HttpClient http(*url, tls_options());
  std::string body = R"({"device_id":)" + std::to_string(device) +
                     R"(,"telemetry":{"temperature":{"value":)" + std::to_string(temperature) +
                     R"(,"unit":"°C"}}})";
  auto r = http.post("/api/v1/telemetry", body, env("VALTRONICS_ADMIN_TOKEN"));
  ASSERT_EQ(r.status, 202) << r.body;
}

template <class T>
T get(std::future<T>& f) {
  if (f.wait_for(10s) != std::future_status::ready) throw std::runtime_error("no reply in 10 s");
  return f.get();
}

TEST(ClientApi, ConnectSubscribeReceiveUnsubscribe) {
  Client c(options(env("VALTRONICS_ADMIN_TOKEN")));
  auto updates = c.queue("telemetry_update");
  std::atomic<int> states{0};
  c.on_state([&](const StateChange& s) {
    if (s.state == State::connected) ++states;
  });
  // A request made before connecting waits for the connection.
  auto early = c.subscribe("telemetry", json::object{{"device_id", json::array{11, 12}},
                                                      {"metrics", json::array{"temperature"}}});
  auto info = c.connect();
  ASSERT_EQ(info.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(info.get().user, "api-admin");
  EXPECT_EQ(info.get().role, "admin");
  EXPECT_EQ(c.state(), State::connected);
  auto sub = get(early);
  EXPECT_EQ(sub.channel, "telemetry");
  EXPECT_EQ(json::serialize(sub.filters["device_id"]), "[11,12]");
  EXPECT_FALSE(sub.recovered.has_value());

  ingest(11, 21.5);
  ingest(13, 99);  // not subscribed
  auto m = updates->pop(5s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->type, "telemetry_update");
  EXPECT_EQ(m->body.at("device_id").as_int64(), 11);
  EXPECT_EQ(m->body.at("telemetry").at("temperature").at("value").as_double(), 21.5);
  EXPECT_NE(m->text.find("\"device_id\":11"), std::string::npos);  // the frame as sent

  auto unsub = c.unsubscribe("telemetry", 11);
  EXPECT_EQ(get(unsub).removed, 1);
  ingest(11, 22);
  ingest(12, 23);
  m = updates->pop(5s);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->body.at("device_id").as_int64(), 12);
  EXPECT_FALSE(updates->pop(300ms).has_value());
  EXPECT_EQ(states.load(), 1);
  auto st = c.stats();
  EXPECT_EQ(st.connections, 1u);
  EXPECT_EQ(st.lost, 0u);
  EXPECT_GE(st.delivered, 5u);  // auth_response, subscribed, 2 updates, unsubscribed
}

TEST(ClientApi, PingBatchAndErrorReplies) {
  Client c(options(env("VALTRONICS_USER_TOKEN")));
  c.connect().get();
  auto pong = c.ping();
  auto p = get(pong);
  EXPECT_EQ(p.server_time.size(), 24u) << p.server_time;  // 2026-01-01T12:00:00.000Z
  EXPECT_LT(p.round_trip, 5000ms);

  // Error replies fail the future with the server's code.
  auto forbidden = c.subscribe("telemetry", json::object{{"device_id", 2}});
  try {
    get(forbidden);
    FAIL() << "expected forbidden";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "forbidden") << e.what();
  }

  auto replies = c.batch({json::object{{"type", "subscribe"}, {"channel", "alerts"}},
                          json::object{{"type", "ping"}},
                          json::object{{"type", "subscribe"}, {"channel", "weather"}}});
  auto rs = get(replies);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_TRUE(rs[0].ok());
  EXPECT_EQ(rs[0].message.at("type").as_string(), "subscribed");
  EXPECT_EQ(rs[1].message.at("type").as_string(), "pong");
  EXPECT_EQ(rs[2].error, "unknown_channel");
  EXPECT_FALSE(rs[2].error_message.empty());

  // A batch refused as a whole fails every message with the batch's error.
  std::vector<json::object> many(51, json::object{{"type", "ping"}});
  auto too_many = c.batch(many);
  auto rs2 = get(too_many);
  ASSERT_EQ(rs2.size(), 51u);
  EXPECT_EQ(rs2[0].error, "batch_too_large");
  EXPECT_EQ(rs2[50].error, "batch_too_large");

  // Callback overloads run on the client's thread.
  std::promise<Reply> done;
  c.ping([&](const Reply& r) { done.set_value(r); });
  auto f = done.get_future();
  EXPECT_TRUE(get(f).ok());
}

TEST(ClientApi, RefusedTokenIsFatal) {
  Client c(options("not-a-token"));
  std::atomic<int> reconnecting{0};
  c.on_state([&](const StateChange& s) {
    if (s.state == State::reconnecting) ++reconnecting;
  });
  auto info = c.connect();
  ASSERT_EQ(info.wait_for(10s), std::future_status::ready);
  try {
    info.get();
    FAIL() << "expected auth_failed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "auth_failed");
    EXPECT_NE(std::string(e.what()).find("invalid_token"), std::string::npos) << e.what();
  }
  EXPECT_THROW(c.finished().get(), Error);
  EXPECT_EQ(c.state(), State::failed);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(reconnecting.load(), 0);
  // Requests after a fatal error fail at once.
  auto p = c.ping();
  EXPECT_THROW(get(p), Error);
}

TEST(ClientApi, GivesUpAfterMaxAttempts) {
  Options o = options("t");
  o.url = "ws://127.0.0.1:1/ws";  // nothing listens on port 1
  o.backoff.max_attempts = 2;
  o.backoff.base = 10ms;
  Client c(o);
  std::atomic<int> reconnecting{0};
  c.on_state([&](const StateChange& s) {
    if (s.state == State::reconnecting) ++reconnecting;
  });
  auto info = c.connect();
  ASSERT_EQ(info.wait_for(10s), std::future_status::ready);
  try {
    info.get();
    FAIL() << "expected gave_up";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "gave_up");
    EXPECT_NE(std::string(e.what()).find("gave up after 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(reconnecting.load(), 2);
}

TEST(ClientApi, CloseEndsTheSession) {
  Client c(options(env("VALTRONICS_ADMIN_TOKEN")));
  c.connect().get();
  auto finished = c.finished();
  EXPECT_EQ(finished.wait_for(0ms), std::future_status::timeout);
  c.close();
  ASSERT_EQ(finished.wait_for(5s), std::future_status::ready);
  EXPECT_NO_THROW(finished.get());
  EXPECT_EQ(c.state(), State::closed);
  auto p = c.ping();
  try {
    get(p);
    FAIL() << "expected closed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "closed");
  }
}

TEST(ClientApi, HandlerExceptionsDoNotStopTheClient) {
  Client c(options(env("VALTRONICS_ADMIN_TOKEN")));
  c.on("subscribed", [](const Message&) { throw std::runtime_error("application bug"); });
  c.connect().get();
  auto s = c.subscribe("alerts");
  EXPECT_EQ(get(s).channel, "alerts");
  auto p = c.ping();
  EXPECT_NO_THROW(get(p));
}

// A token refresh whose claims no longer cover a subscription: the server removes it and names
// it in an `error` without id; the client drops exactly that key from its restore set, tells
// on_subscription_removed, and a reconnect restores the others only. Driven by
// test_client_api.py (test_cpp_subscription_removed_by_a_refresh), which sets
// VALTRONICS_SHORT_ADMIN_TOKEN (an admin token that expires a few seconds after the server's
// expiry_warning) and restarts the server on the same port when this test prints
// RESTART_SERVER, answering on stdin once the new server listens. Skipped otherwise.
TEST(ClientApi, SubscriptionRemovedByARefreshIsNotRestored) {
  const char* short_admin = std::getenv("VALTRONICS_SHORT_ADMIN_TOKEN");
  if (short_admin == nullptr) GTEST_SKIP() << "run by test_client_api.py with a server restart";
  std::string admin = short_admin, user = env("VALTRONICS_USER_TOKEN");  // user: device 1 only
  std::atomic<bool> narrowed{false};
  Options o = options("");
  o.token_provider = [&] { return narrowed ? user : admin; };
  Client c(o);

  std::mutex mu;
  std::vector<SubscriptionRemoved> removed;
  std::promise<void> first_removal;
  c.on_subscription_removed([&](const SubscriptionRemoved& r) {
    std::lock_guard lock(mu);
    removed.push_back(r);
    if (removed.size() == 1) first_removal.set_value();
  });
  auto errors = c.queue("error");
  auto subscribed = c.queue("subscribed");
  std::atomic<int> connections{0};
  c.on_state([&](const StateChange& s) {
    if (s.state == State::connected) ++connections;
  });

  c.connect().get();
  auto sub = c.subscribe("telemetry", json::object{{"device_id", json::array{1, 5}}});
  EXPECT_EQ(json::serialize(get(sub).filters["device_id"]), "[1,5]");
  ASSERT_TRUE(subscribed->pop(5s).has_value());
  // From now on the provider hands out the user token: the server's token_expiring (a few
  // seconds from now) makes the client re-authenticate with it on the open connection.
  narrowed = true;
  auto removal = first_removal.get_future();
  ASSERT_EQ(removal.wait_for(15s), std::future_status::ready) << "no subscription removed";
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0].channel, "telemetry");
    EXPECT_EQ(removed[0].device_id, std::optional<std::int64_t>(5));
    EXPECT_EQ(removed[0].reason, "token_refresh");
    EXPECT_EQ(removed[0].error, "forbidden");
    EXPECT_FALSE(removed[0].message.empty());
  }
  // The server's error reaches the handlers too.
  auto e = errors->pop(5s);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->body.at("error").as_string(), "forbidden");
  EXPECT_EQ(e->body.at("channel").as_string(), "telemetry");
  EXPECT_EQ(e->body.at("device_id").as_int64(), 5);
  EXPECT_FALSE(e->body.contains("id"));
  auto pong = c.ping();
  get(pong);
  EXPECT_FALSE(errors->try_pop().has_value());

  // A reconnect (the server restarted on the same port) restores device 1 only.
  std::cout << "RESTART_SERVER" << std::endl;
  std::string line;
  ASSERT_TRUE(static_cast<bool>(std::getline(std::cin, line))) << "no answer from the driver";
  for (int i = 0; i < 150 && connections.load() < 2; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(connections.load(), 2) << "no reconnect";
  auto restored = subscribed->pop(10s);
  ASSERT_TRUE(restored.has_value()) << "no restore";
  EXPECT_EQ(restored->body.at("channel").as_string(), "telemetry");
  EXPECT_EQ(json::serialize(restored->body.at("filters").at("device_id")), "[1]");
  auto pong2 = c.ping();  // sent after the restore: its reply follows any error about it
  get(pong2);
  EXPECT_FALSE(errors->try_pop().has_value()) << "a restore was refused";
  EXPECT_FALSE(subscribed->try_pop().has_value());
  std::lock_guard lock(mu);
  EXPECT_EQ(removed.size(), 1u);
}

}  // namespace
}  // namespace valtronics::client
