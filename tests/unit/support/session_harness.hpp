// Test harness for the IO-free connection core (session::Connection): a scripted Host whose
// catch-up queries stay pending until the test answers them (that is how orderings are tested),
// fake steady and wall clocks the test advances, and the real pieces around a connection (hub
// shard, JWT verifier with tokens from auth::sign_token, connection registry, default config).
//
// A test plays the client: it sends masked frames built by hand (RFC 6455) through on_bytes, reads
// what the core queued by gathering its outbound queue as a socket write would and decoding the
// server's unmasked frames, and publishes hub events through the shard.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <gtest/gtest.h>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/claims.hpp"
#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "hub/event.hpp"
#include "hub/shard.hpp"
#include "model/alert.hpp"
#include "model/enums.hpp"
#include "model/events.hpp"
#include "protocol/parse.hpp"
#include "protocol/serialize.hpp"
#include "protocol/ws_frame.hpp"
#include "session/connection.hpp"
#include "session/connection_registry.hpp"
#include "session/host.hpp"

namespace valtronics::session::test {

namespace json = boost::json;
using namespace std::chrono_literals;
using protocol::ws::Opcode;

// ------------------------------------------------------------------------------------ clocks

// The connection's clocks (Context::steady_now / wall_now point here). Both advance together.
struct FakeClock {
  // Wall time starts on a whole second (tokens carry whole seconds): 2026-01-01T12:00:00Z.
  static constexpr util::TimePoint kWallStart = util::TimePoint{} + std::chrono::seconds(1'767'268'800);
  static constexpr SteadyTime kSteadyStart = SteadyTime{} + std::chrono::hours(1000);
  static inline SteadyTime steady = kSteadyStart;
  static inline util::TimePoint wall = kWallStart;

  static SteadyTime steady_now() { return steady; }
  static util::TimePoint wall_now() { return wall; }
  static void reset() {
    steady = kSteadyStart;
    wall = kWallStart;
  }
  template <class Rep, class Period>
  static void advance(std::chrono::duration<Rep, Period> d) {
    steady += std::chrono::duration_cast<SteadyTime::duration>(d);
    wall += std::chrono::duration_cast<util::Clock::duration>(d);
  }
  // Steady time since the start of the test.
  static SteadyTime::duration elapsed() { return steady - kSteadyStart; }
};

// ------------------------------------------------------------------------------------ host

class ScriptedHost final : public Host {
 public:
  struct TelemetryQuery {
    protocol::Filters filters;
    auth::Claims claims;
    std::function<void(model::Snapshot<model::TelemetryEvent>)> done;
  };
  struct StatusQuery {
    protocol::Filters filters;
    auth::Claims claims;
    std::function<void(model::Snapshot<model::DeviceStatusEvent>)> done;
  };
  struct ReplayQuery {
    std::int64_t since_id;
    protocol::Filters filters;
    auth::Claims claims;
    std::function<void(model::AlertReplay)> done;
  };

  void telemetry_snapshot(const protocol::Filters& filters, const auth::Claims& claims,
                          std::function<void(model::Snapshot<model::TelemetryEvent>)> done) override {
    telemetry_queries.push_back({filters, claims, std::move(done)});
  }
  void status_snapshot(const protocol::Filters& filters, const auth::Claims& claims,
                       std::function<void(model::Snapshot<model::DeviceStatusEvent>)> done) override {
    status_queries.push_back({filters, claims, std::move(done)});
  }
  void replay_alerts(std::int64_t since_id, const protocol::Filters& filters,
                     const auth::Claims& claims,
                     std::function<void(model::AlertReplay)> done) override {
    replay_queries.push_back({since_id, filters, claims, std::move(done)});
  }

  void wants_write() override { ++wants_write_calls; }
  void deadline_changed(SteadyTime when) override {
    deadline = when;
    deadline_history.push_back(when);
  }
  void abort_transport() override { ++aborts; }

  std::size_t pending_queries() const {
    return telemetry_queries.size() + status_queries.size() + replay_queries.size();
  }

  std::deque<TelemetryQuery> telemetry_queries;
  std::deque<StatusQuery> status_queries;
  std::deque<ReplayQuery> replay_queries;
  int wants_write_calls = 0;
  SteadyTime deadline = SteadyTime::max();  // the last one given
  std::vector<SteadyTime> deadline_history;
  int aborts = 0;
};

// ------------------------------------------------------------------------------------ frames

// A client frame as a browser sends it: masked (RFC 6455 5.3), FIN set unless `fin` is false.
inline std::string masked_frame(Opcode opcode, std::string_view payload, bool fin = true) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(opcode)));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>((n >> 8) & 0xFF));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  }
  const unsigned char key[4] = {0x3A, 0x91, 0x0C, 0xE7};
  for (unsigned char k : key) f.push_back(static_cast<char>(k));
  for (std::size_t i = 0; i < payload.size(); ++i)
    f.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4]));
  return f;
}

// A close payload: 2-byte big-endian code + reason.
inline std::string close_body(std::uint16_t code, std::string_view reason = "") {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

// One server frame, decoded.
struct Frame {
  Opcode opcode;
  std::string payload;
  bool compressed = false;  // RSV1: permessage-deflate (decode_server_frames(.., true) only)

  bool is_text() const { return opcode == Opcode::text; }
  json::object json() const {
    json::error_code ec;
    auto v = json::parse(payload, ec);
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << payload;
      return {};
    }
    return v.as_object();
  }
  // A close frame's code (0 when it is not a close frame or has none).
  std::uint16_t close_code() const {
    if (opcode != Opcode::close || payload.size() < 2) return 0;
    return static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                      static_cast<unsigned char>(payload[1]));
  }
  std::string close_reason() const { return payload.size() > 2 ? payload.substr(2) : ""; }
};

// Decodes server frames (unmasked, FIN set) from `bytes`; RSV1 (a compressed message) only
// where permessage-deflate was agreed (`compressed`), the payload left as sent.
inline std::vector<Frame> decode_server_frames(std::string_view bytes, bool compressed = false) {
  std::vector<Frame> out;
  std::size_t p = 0;
  while (p < bytes.size()) {
    if (bytes.size() - p < 2) {
      ADD_FAILURE() << "truncated frame header";
      break;
    }
    const auto b0 = static_cast<unsigned char>(bytes[p]);
    const auto b1 = static_cast<unsigned char>(bytes[p + 1]);
    EXPECT_TRUE(b0 & 0x80) << "server frames are never fragmented";
    EXPECT_EQ(b0 & (compressed ? 0x30 : 0x70), 0) << "no reserved bit";
    EXPECT_FALSE(b1 & 0x80) << "server frames are not masked";
    std::uint64_t len = b1 & 0x7F;
    p += 2;
    if (len == 126) {
      len = (static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[p])) << 8) |
            static_cast<unsigned char>(bytes[p + 1]);
      p += 2;
    } else if (len == 127) {
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(bytes[p + i]);
      p += 8;
    }
    if (bytes.size() - p < len) {
      ADD_FAILURE() << "truncated frame payload";
      break;
    }
    out.push_back({static_cast<Opcode>(b0 & 0x0F), std::string(bytes.substr(p, len)),
                   (b0 & 0x40) != 0});
    p += len;
  }
  return out;
}

inline std::string type_of(const json::object& o) {
  const auto* t = o.if_contains("type");
  return t && t->is_string() ? std::string(t->get_string()) : std::string("?");
}

inline std::vector<std::string> types_of(const std::vector<json::object>& msgs) {
  std::vector<std::string> out;
  for (const auto& m : msgs) out.push_back(type_of(m));
  return out;
}

inline json::object obj(std::string_view text) { return json::parse(text).as_object(); }

// ------------------------------------------------------------------------------------ events

inline model::MetricReading reading(std::string name, double value, std::string unit = "") {
  return {std::move(name), value, std::move(unit), FakeClock::wall};
}

inline model::TelemetryEvent telemetry(std::int64_t device,
                                       std::vector<model::MetricReading> readings) {
  return {device, std::move(readings)};
}

inline model::AlertEvent alert_event(std::int64_t id, std::int64_t device,
                                     model::Severity severity = model::Severity::warning,
                                     model::AlertStatus status = model::AlertStatus::active,
                                     model::AlertType type = model::AlertType::threshold) {
  model::AlertEvent a;
  a.alert_id = id;
  a.device_id = device;
  a.severity = severity;
  a.alert_type = type;
  a.title = "alert " + std::to_string(id);
  a.message = "device " + std::to_string(device);
  a.status = status;
  a.timestamp = FakeClock::wall;
  return a;
}

// A stored alert, as a replay returns it.
inline model::Alert stored_alert(std::int64_t id, std::int64_t device,
                                 model::Severity severity = model::Severity::warning,
                                 model::AlertStatus status = model::AlertStatus::active,
                                 model::AlertType type = model::AlertType::threshold) {
  model::Alert a;
  a.id = id;
  a.device_id = device;
  a.severity = severity;
  a.alert_type = type;
  a.title = "alert " + std::to_string(id);
  a.message = "device " + std::to_string(device);
  a.status = status;
  a.timestamp = FakeClock::wall;
  return a;
}

inline model::DeviceStatusEvent status_event(std::int64_t device, model::DeviceStatus from,
                                             model::DeviceStatus to, std::string reason = "test") {
  model::DeviceStatusEvent e;
  e.device_id = device;
  e.old_status = from;
  e.new_status = to;
  e.reason = std::move(reason);
  e.timestamp = FakeClock::wall;
  return e;
}

inline model::SystemEvent system_event(double cpu, double memory = 50) {
  model::SystemEvent e;
  e.metrics = {{"cpu_usage", cpu}, {"memory_usage", memory}};
  e.timestamp = FakeClock::wall;
  return e;
}

// A hub event as the hub builds it at publish.
inline hub::EventPtr make_event(std::uint64_t id, model::EventBody body) {
  auto e = std::make_shared<hub::Event>();
  e->id = id;
  e->channel = model::channel_of(body);
  e->full_bytes = std::make_shared<const std::string>(protocol::serialize_event(body));
  e->body = std::move(body);
  return e;
}

// ------------------------------------------------------------------------------------ client

// One connection and its scripted host, played from the client's side.
class TestClient {
 public:
  TestClient(const Context& ctx, hub::Shard& shard, Connection::Options opts)
      : conn(host, ctx, shard, std::move(opts)) {}

  // ---- sending
  void send_raw(std::string_view bytes) { conn.on_bytes(bytes.data(), bytes.size()); }
  void send_frame(Opcode opcode, std::string_view payload, bool fin = true) {
    send_raw(masked_frame(opcode, payload, fin));
  }
  void send(std::string_view json_text) { send_frame(Opcode::text, json_text); }

  // ---- reading: everything queued, as a socket that writes it all at once
  std::vector<Frame> read_frames() {
    std::vector<Frame> out;
    // on_written may queue more (a replay is fed as the client reads): until nothing is left.
    for (int rounds = 0; !conn.outbound().empty(); ++rounds) {
      if (rounds > 100000) {
        ADD_FAILURE() << "outbound queue never drains";
        break;
      }
      std::vector<iovec> iov;
      conn.outbound().gather(iov, std::numeric_limits<std::size_t>::max());
      std::string bytes;
      for (const auto& v : iov) bytes.append(static_cast<const char*>(v.iov_base), v.iov_len);
      auto frames = decode_server_frames(bytes);
      out.insert(out.end(), std::make_move_iterator(frames.begin()),
                 std::make_move_iterator(frames.end()));
      conn.on_written(bytes.size());
    }
    return out;
  }
  // Everything queued, every frame a JSON text frame.
  std::vector<json::object> read() {
    std::vector<json::object> out;
    for (const auto& f : read_frames()) {
      if (!f.is_text()) {
        ADD_FAILURE() << "unexpected non-text frame, opcode " << int(f.opcode)
                      << (f.opcode == Opcode::close ? " close code " + std::to_string(f.close_code()) + " " + f.close_reason() : "");
        continue;
      }
      out.push_back(f.json());
    }
    return out;
  }
  // Exactly one JSON message.
  json::object read_one() {
    auto msgs = read();
    if (msgs.size() != 1) {
      ADD_FAILURE() << "expected one message, got " << msgs.size() << ": " << dump(msgs);
      return msgs.empty() ? json::object{} : msgs.front();
    }
    return msgs.front();
  }
  // The JSON messages before the close frame, which must be the last frame and carry `code`.
  std::vector<json::object> read_until_close(std::uint16_t code) {
    auto frames = read_frames();
    std::vector<json::object> out;
    if (frames.empty() || frames.back().opcode != Opcode::close) {
      ADD_FAILURE() << "expected a close frame " << code << " last";
    } else {
      EXPECT_EQ(frames.back().close_code(), code) << frames.back().close_reason();
      frames.pop_back();
    }
    for (const auto& f : frames) {
      EXPECT_TRUE(f.is_text()) << "opcode " << int(f.opcode);
      if (f.is_text()) out.push_back(f.json());
    }
    return out;
  }
  static std::string dump(const std::vector<json::object>& msgs) {
    std::string s;
    for (const auto& m : msgs) s += json::serialize(m) + "\n";
    return s;
  }

  // ---- catch-up answers (oldest pending query first)
  void answer_telemetry(std::vector<model::TelemetryEvent> items, std::uint64_t as_of) {
    ASSERT_FALSE(host.telemetry_queries.empty()) << "no telemetry snapshot pending";
    auto q = std::move(host.telemetry_queries.front());
    host.telemetry_queries.pop_front();
    q.done({std::move(items), as_of});
  }
  void answer_status(std::vector<model::DeviceStatusEvent> items, std::uint64_t as_of) {
    ASSERT_FALSE(host.status_queries.empty()) << "no status snapshot pending";
    auto q = std::move(host.status_queries.front());
    host.status_queries.pop_front();
    q.done({std::move(items), as_of});
  }
  void answer_alerts(std::vector<model::Alert> alerts, bool complete = true) {
    ASSERT_FALSE(host.replay_queries.empty()) << "no alerts query pending";
    auto q = std::move(host.replay_queries.front());
    host.replay_queries.pop_front();
    model::AlertReplay r;
    r.alerts = std::move(alerts);
    r.complete = complete;
    q.done(std::move(r));
  }

  ScriptedHost host;  // before conn: the connection refers to it
  Connection conn;
};

// ------------------------------------------------------------------------------------ harness

struct TokenSpec {
  std::string sub = "alice";
  auth::Role role = auth::Role::admin;
  std::vector<std::int64_t> devices;  // for user/analyst; empty with all_devices false = none
  bool all_devices = false;
  std::chrono::seconds ttl = std::chrono::hours(1);
  std::optional<std::int64_t> device_id;  // device tokens
};

class SessionHarness {
 public:
  static constexpr const char* kSecret = "session-harness-secret";

  static config::Config default_config() {
    config::Config c;
    c.auth.jwt_secret = kSecret;
    return c;
  }

  explicit SessionHarness(config::Config c = default_config())
      : cfg((FakeClock::reset(), std::move(c))),
        verifier(cfg.auth.jwt_secret, cfg.auth.leeway),
        registry(cfg.limits.max_connections, cfg.limits.max_connections_per_user,
                 cfg.limits.max_unauthenticated),
        parse_options(make_parse_options(cfg)),
        abuse({cfg.limits.auth_failures_before_ban, cfg.limits.auth_failure_window,
               cfg.limits.ban_duration}),
        ctx{cfg, verifier, registry, parse_options, newest_alert_id, abuse,
            &FakeClock::steady_now, &FakeClock::wall_now} {}

  // ---- tokens
  std::string token(const TokenSpec& spec) const {
    auth::Claims c;
    c.sub = spec.sub;
    c.role = spec.role;
    c.devices = spec.devices;
    c.all_devices = spec.all_devices;
    c.device_id = spec.device_id;
    return auth::sign_token(cfg.auth.jwt_secret, c, spec.ttl, FakeClock::wall);
  }
  std::string admin_token(std::string sub = "alice") const {
    return token({.sub = std::move(sub), .role = auth::Role::admin});
  }
  std::string user_token(std::vector<std::int64_t> devices, std::string sub = "bob") const {
    return token({.sub = std::move(sub), .role = auth::Role::user, .devices = std::move(devices)});
  }
  static std::string auth_message(std::string_view token, std::string_view id = "1") {
    return R"({"type":"auth","token":")" + std::string(token) + R"(","id":)" + std::string(id) + "}";
  }

  // ---- connections
  // A connection that has completed the upgrade (and holds a registry slot, as in the server).
  std::unique_ptr<TestClient> connect(Connection::Options opts = {},
                                      std::optional<std::string> header_token = std::nullopt,
                                      std::string_view early_bytes = {}) {
    EXPECT_EQ(registry.try_open(), ConnectionRegistry::Admission::ok);
    auto c = std::make_unique<TestClient>(ctx, shard, std::move(opts));
    c->conn.start(early_bytes, std::move(header_token));
    return c;
  }
  // Connected and authenticated with `token` (its auth_response read and checked).
  std::unique_ptr<TestClient> authed(const std::string& token, Connection::Options opts = {}) {
    auto c = connect(std::move(opts));
    c->send(auth_message(token));
    auto msgs = c->read();
    EXPECT_FALSE(msgs.empty());
    if (!msgs.empty()) {
      EXPECT_EQ(type_of(msgs.front()), "auth_response");
      EXPECT_EQ(msgs.front().at("success"), json::value(true)) << json::serialize(msgs.front());
    }
    return c;
  }
  std::unique_ptr<TestClient> admin() { return authed(admin_token()); }

  // ---- the hub
  // Publishes `body` as the hub does: the next event id, dispatched on this shard.
  hub::EventPtr publish(model::EventBody body) {
    auto e = make_event(++last_event_id, std::move(body));
    shard.dispatch(e);
    return e;
  }

  config::Config cfg;
  auth::JwtVerifier verifier;
  ConnectionRegistry registry;
  protocol::ParseOptions parse_options;
  std::atomic<std::int64_t> newest_alert_id{0};
  auth::AbuseMonitor abuse;
  Context ctx;
  hub::Shard shard;
  std::uint64_t last_event_id = 0;

 private:
  static protocol::ParseOptions make_parse_options(const config::Config& c) {
    protocol::ParseOptions o;
    o.max_batch = c.limits.max_batch;
    o.system_default_frequency = c.system.default_frequency;
    o.system_min_frequency = c.system.min_frequency;
    return o;
  }
};

// The `seq` of each update message, in order.
inline std::vector<std::int64_t> seqs_of(const std::vector<json::object>& msgs) {
  std::vector<std::int64_t> out;
  for (const auto& m : msgs)
    if (const auto* s = m.if_contains("seq")) out.push_back(s->as_int64());
  return out;
}

// The alert ids of the `alert` messages, in order.
inline std::vector<std::int64_t> alert_ids_of(const std::vector<json::object>& msgs) {
  std::vector<std::int64_t> out;
  for (const auto& m : msgs)
    if (type_of(m) == "alert") out.push_back(m.at("alert_id").as_int64());
  return out;
}

}  // namespace valtronics::session::test
