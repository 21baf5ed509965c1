// Configuration loading: every key read from TOML, every kind of mistake reported as one line
// naming the key, the example file matching the built-in defaults, listen parsing and the
// cross-key rules of validate().

#include "config/config.hpp"
#include "config_files.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace valtronics::config {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using testing::error_of;
using testing::load_error;
using testing::load_text;
using testing::TempFile;

std::string example_path() {
  return (fs::path(VALTRONICS_SOURCE_DIR) / "config" /
          "valtronics.example.toml")
      .string();
}

TEST(ConfigTest, EmptyFileGivesDefaults) {
  Config c = load_text("");
  Config d;
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8000);
  EXPECT_EQ(c.threads, d.threads);
  EXPECT_EQ(c.limits.max_connections, 1000u);
  EXPECT_EQ(c.auth.auth_timeout, 10s);
}

TEST(ConfigTest, EveryKeyIsRead) {
  Config c = load_text(R"(
listen = "0.0.0.0:9001"
threads = 4
log_level = "debug"
demo = true

[auth]
jwt_secret = "s3cret"
algorithm = "HS256"
auth_timeout = "3s"
leeway = "250ms"
allowed_origins = ["https://a.example", "*"]
expiry_warning = "2m"

[limits]
max_connections = 11
max_connections_per_user = 12
connections_per_minute = 13
messages_per_second = 14.5
max_message_bytes = 15
max_batch = 16
max_batch_bytes = 17
max_outbound_bytes = 18
max_subscriptions = 19
flood_close_after = "20s"

[ingest]
max_items = 21
max_body_bytes = 22

[telemetry]
retention = "2d"

[alerts]
replay_max_alerts = 23
replay_max_age = "1d"
retention = "12h"

[system]
default_frequency = "1h"
min_frequency = "500ms"
)");
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 9001);
  EXPECT_EQ(c.threads, 4u);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_TRUE(c.demo);
  EXPECT_EQ(c.auth.jwt_secret, "s3cret");
  EXPECT_EQ(c.auth.algorithms, (std::vector<std::string>{"HS256"}));
  EXPECT_EQ(c.auth.auth_timeout, 3s);
  EXPECT_EQ(c.auth.leeway, 250ms);
  EXPECT_EQ(c.auth.allowed_origins, (std::vector<std::string>{"https://a.example", "*"}));
  EXPECT_EQ(c.auth.expiry_warning, 2min);
  EXPECT_EQ(c.limits.max_connections, 11u);
  EXPECT_EQ(c.limits.max_connections_per_user, 12u);
  EXPECT_EQ(c.limits.connections_per_minute, 13u);
  EXPECT_DOUBLE_EQ(c.limits.messages_per_second, 14.5);
  EXPECT_EQ(c.limits.max_message_bytes, 15u);
  EXPECT_EQ(c.limits.max_batch, 16u);
  EXPECT_EQ(c.limits.max_batch_bytes, 17u);
  EXPECT_EQ(c.limits.max_outbound_bytes, 18u);
  EXPECT_EQ(c.limits.max_subscriptions, 19u);
  EXPECT_EQ(c.limits.flood_close_after, 20s);
  EXPECT_EQ(c.ingest.max_items, 21u);
  EXPECT_EQ(c.ingest.max_body_bytes, 22u);
  EXPECT_EQ(c.telemetry.retention, 48h);
  EXPECT_EQ(c.alerts.replay_max_alerts, 23u);
  EXPECT_EQ(c.alerts.replay_max_age, 24h);
  EXPECT_EQ(c.alerts.retention, 12h);
  EXPECT_EQ(c.system.default_frequency, 1h);
  EXPECT_EQ(c.system.min_frequency, 500ms);
}

TEST(ConfigTest, IntegerMessagesPerSecond) {
  EXPECT_DOUBLE_EQ(load_text("[limits]\nmessages_per_second = 7\n").limits.messages_per_second, 7.0);
}

TEST(ConfigTest, FileOverridesOnlyItsKeys) {
  Config base;
  base.threads = 8;
  base.auth.jwt_secret = "from-base";
  TempFile f("[limits]\nmax_batch = 5\n");
  Config c = load_file(f.path(), base);
  EXPECT_EQ(c.threads, 8u);
  EXPECT_EQ(c.auth.jwt_secret, "from-base");
  EXPECT_EQ(c.limits.max_batch, 5u);
}

TEST(ConfigTest, ExampleFileLoadsAndMatchesDefaults) {
  Config c;
  ASSERT_NO_THROW(c = load_file(example_path())) << example_path();
  const Config d;
  EXPECT_EQ(c.listen_host, d.listen_host);
  EXPECT_EQ(c.listen_port, d.listen_port);
  EXPECT_EQ(c.threads, d.threads);
  EXPECT_EQ(c.log_level, d.log_level);
  EXPECT_EQ(c.demo, d.demo);
  EXPECT_EQ(c.auth.jwt_secret, d.auth.jwt_secret);
  EXPECT_EQ(c.auth.algorithms, d.auth.algorithms);
  EXPECT_EQ(c.auth.auth_timeout, d.auth.auth_timeout);
  EXPECT_EQ(c.auth.leeway, d.auth.leeway);
  EXPECT_EQ(c.auth.allowed_origins, d.auth.allowed_origins);
  EXPECT_EQ(c.auth.expiry_warning, d.auth.expiry_warning);
  EXPECT_EQ(c.limits.max_connections, d.limits.max_connections);
  EXPECT_EQ(c.limits.max_connections_per_user, d.limits.max_connections_per_user);
  EXPECT_EQ(c.limits.connections_per_minute, d.limits.connections_per_minute);
  EXPECT_EQ(c.limits.messages_per_second, d.limits.messages_per_second);
  EXPECT_EQ(c.limits.max_message_bytes, d.limits.max_message_bytes);
  EXPECT_EQ(c.limits.max_batch, d.limits.max_batch);
  EXPECT_EQ(c.limits.max_batch_bytes, d.limits.max_batch_bytes);
  EXPECT_EQ(c.limits.max_outbound_bytes, d.limits.max_outbound_bytes);
  EXPECT_EQ(c.limits.max_subscriptions, d.limits.max_subscriptions);
  EXPECT_EQ(c.limits.flood_close_after, d.limits.flood_close_after);
  EXPECT_EQ(c.ingest.max_items, d.ingest.max_items);
  EXPECT_EQ(c.ingest.max_body_bytes, d.ingest.max_body_bytes);
  EXPECT_EQ(c.telemetry.retention, d.telemetry.retention);
  EXPECT_EQ(c.alerts.replay_max_alerts, d.alerts.replay_max_alerts);
  EXPECT_EQ(c.alerts.replay_max_age, d.alerts.replay_max_age);
  EXPECT_EQ(c.alerts.retention, d.alerts.retention);
  EXPECT_EQ(c.system.default_frequency, d.system.default_frequency);
  EXPECT_EQ(c.system.min_frequency, d.system.min_frequency);
  // With a secret (or demo) the example is a valid configuration as it stands.
  c.auth.jwt_secret = "x";
  EXPECT_NO_THROW(validate(c));
}

TEST(ConfigTest, ExampleFileMentionsEveryKey) {
  // Loading proves every key in the example is known; this proves none is missing from it.
  std::ifstream in(example_path());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key :
       {"listen =", "threads =", "log_level =", "demo =", "[auth]", "jwt_secret =",
        "algorithms =", "previous_jwt_secret =", "public_key_file =", "jwks_file =",
        "issuer =", "audience =", "auth_timeout =", "leeway =", "allowed_origins =", "expiry_warning =",
        "[limits]", "max_connections =", "max_connections_per_user =", "connections_per_minute =",
        "messages_per_second =", "max_message_bytes =", "max_batch =", "max_batch_bytes =",
        "max_outbound_bytes =", "max_subscriptions =", "flood_close_after =", "[ingest]",
        "max_items =", "max_body_bytes =", "[telemetry]", "[alerts]", "replay_max_alerts =",
        "replay_max_age =", "[system]", "default_frequency =", "min_frequency =",
        "max_unauthenticated =", "auth_failures_before_ban =", "auth_failure_window =",
        "ban_duration =", "[server]", "trusted_proxies =", "io_uring =", "[mqtt]",
        "topic_prefix =", "qos =", "client_id =", "[cluster]", "nats_url =", "node_id =",
        "partitions =", "lease_ttl ="}) {
    EXPECT_NE(text.find(key), std::string::npos) << key;
  }
}

// ---- abuse limits (issue 10)
TEST(ConfigTest, AbuseLimitKeys) {
  const Config d;
  EXPECT_EQ(d.limits.max_http_connections, 1000u);
  EXPECT_EQ(d.limits.header_timeout, 10s);
  EXPECT_EQ(d.limits.body_timeout, 30s);
  EXPECT_EQ(d.ingest.max_metrics_per_device, 1000u);
  Config c = load_text(
      "[limits]\nmax_http_connections = 7\nheader_timeout = \"2s\"\nbody_timeout = \"3s\"\n"
      "[ingest]\nmax_metrics_per_device = 9\n");
  EXPECT_EQ(c.limits.max_http_connections, 7u);
  EXPECT_EQ(c.limits.header_timeout, 2s);
  EXPECT_EQ(c.limits.body_timeout, 3s);
  EXPECT_EQ(c.ingest.max_metrics_per_device, 9u);
  EXPECT_EQ(error_of("[limits]\nmax_http_connections = 0\n"),
            "limits.max_http_connections: expected a positive integer");
  EXPECT_NE(error_of("[limits]\nheader_timeout = \"0s\"\n").find("limits.header_timeout"),
            std::string::npos);
  Config e = load_file(example_path());
  EXPECT_EQ(e.limits.max_http_connections, d.limits.max_http_connections);
  EXPECT_EQ(e.limits.header_timeout, d.limits.header_timeout);
  EXPECT_EQ(e.limits.body_timeout, d.limits.body_timeout);
  EXPECT_EQ(e.ingest.max_metrics_per_device, d.ingest.max_metrics_per_device);
}

TEST(ConfigTest, ControlFramesPerSecond) {
  EXPECT_DOUBLE_EQ(Config{}.limits.control_frames_per_second, 20.0);
  EXPECT_DOUBLE_EQ(load_text("[limits]\ncontrol_frames_per_second = 2.5\n").limits.control_frames_per_second,
                   2.5);
  EXPECT_DOUBLE_EQ(load_text("[limits]\ncontrol_frames_per_second = 50\n").limits.control_frames_per_second,
                   50.0);
  EXPECT_EQ(error_of("[limits]\ncontrol_frames_per_second = 0\n"),
            "limits.control_frames_per_second: expected a positive number");
  EXPECT_EQ(error_of("[limits]\ncontrol_frames_per_second = \"20\"\n"),
            "limits.control_frames_per_second: expected a positive number");
  EXPECT_EQ(error_of("[limits]\ncontrol_frames_per_second = inf\n"),
            "limits.control_frames_per_second: expected a positive number");
  EXPECT_DOUBLE_EQ(load_file(example_path()).limits.control_frames_per_second, 20.0);
}

TEST(ConfigTest, UnknownKeys) {
  EXPECT_EQ(error_of("[limits]\nfoo = 1\n"), "unknown key 'limits.foo'");
  EXPECT_EQ(error_of("colour = \"blue\"\n"), "unknown key 'colour'");
  EXPECT_EQ(error_of("[auth]\nsecret = \"x\"\n"), "unknown key 'auth.secret'");
  EXPECT_EQ(error_of("[limits.extra]\na = 1\n"), "unknown key 'limits.extra'");
  EXPECT_EQ(error_of("[database]\nurl = \"x\"\n"), "unknown section '[database]'");
  // A key of one section written in another is unknown there.
  EXPECT_EQ(error_of("[system]\nmax_items = 3\n"), "unknown key 'system.max_items'");
  EXPECT_EQ(error_of("max_connections = 3\n"), "unknown key 'max_connections'");
}

TEST(ConfigTest, WrongTypes) {
  EXPECT_EQ(error_of("[limits]\nmax_connections = \"1000\"\n"),
            "limits.max_connections: expected a positive integer");
  EXPECT_EQ(error_of("[limits]\nmax_connections = 0\n"),
            "limits.max_connections: expected a positive integer");
  EXPECT_EQ(error_of("[limits]\nmax_connections = -5\n"),
            "limits.max_connections: expected a positive integer");
  EXPECT_EQ(error_of("[limits]\nmax_connections = 1.5\n"),
            "limits.max_connections: expected a positive integer");
  EXPECT_EQ(error_of("[limits]\nmessages_per_second = 0\n"),
            "limits.messages_per_second: expected a positive number");
  EXPECT_EQ(error_of("[limits]\nmessages_per_second = nan\n"),
            "limits.messages_per_second: expected a positive number");
  EXPECT_EQ(error_of("[limits]\nmessages_per_second = inf\n"),
            "limits.messages_per_second: expected a positive number");
  EXPECT_EQ(error_of("[ingest]\nmax_items = true\n"), "ingest.max_items: expected a positive integer");
  EXPECT_EQ(error_of("threads = 0\n"), "threads: expected a positive integer");
  EXPECT_EQ(error_of("threads = 5000\n"), "threads: must be at most 1024");
  EXPECT_EQ(error_of("demo = \"yes\"\n"), "demo: expected true or false, got \"yes\"");
  EXPECT_EQ(error_of("listen = 8000\n"), "listen: expected a string, got 8000");
  EXPECT_EQ(error_of("[auth]\njwt_secret = 123\n"), "auth.jwt_secret: expected a string, got 123");
  EXPECT_EQ(error_of("[auth]\nallowed_origins = \"*\"\n"),
            "auth.allowed_origins: expected an array of strings, got \"*\"");
  EXPECT_EQ(error_of("[auth]\nallowed_origins = [\"a\", 1]\n"),
            "auth.allowed_origins: expected an array of strings, got 1 in it");
  EXPECT_EQ(error_of("limits = 5\n"), "limits: expected a table ([limits]), got 5");
  EXPECT_EQ(error_of("[listen]\nhost = \"x\"\n"), "listen: expected a string, got a table");
}

TEST(ConfigTest, BadDurations) {
  const std::string shape = ": expected a duration like \"10s\", \"500ms\" or \"5m\", got ";
  EXPECT_EQ(error_of("[auth]\nauth_timeout = \"10\"\n"), "auth.auth_timeout" + shape + "\"10\"");
  EXPECT_EQ(error_of("[auth]\nauth_timeout = 10\n"), "auth.auth_timeout" + shape + "10");
  EXPECT_EQ(error_of("[auth]\nauth_timeout = \"0s\"\n"), "auth.auth_timeout" + shape + "\"0s\"");
  EXPECT_EQ(error_of("[auth]\nauth_timeout = \"1.5s\"\n"), "auth.auth_timeout" + shape + "\"1.5s\"");
  EXPECT_EQ(error_of("[auth]\nauth_timeout = \"-1s\"\n"), "auth.auth_timeout" + shape + "\"-1s\"");
  EXPECT_EQ(error_of("[system]\nmin_frequency = \"fast\"\n"),
            "system.min_frequency" + shape + "\"fast\"");
  EXPECT_EQ(error_of("[limits]\nflood_close_after = \"5 s\"\n"),
            "limits.flood_close_after" + shape + "\"5 s\"");
  // Zero is meaningful where it switches something off.
  EXPECT_EQ(load_text("[auth]\nleeway = \"0s\"\n").auth.leeway, 0ms);
  EXPECT_EQ(load_text("[auth]\nexpiry_warning = \"0ms\"\n").auth.expiry_warning, 0ms);
}

// alerts.retention: resolved alerts are kept a month by default; "0s" (or 0 in any unit) keeps
// every alert; anything else must be a duration.
TEST(ConfigTest, AlertRetention) {
  EXPECT_EQ(Config{}.alerts.retention, 30 * 24h);
  EXPECT_EQ(load_text("[alerts]\nretention = \"90d\"\n").alerts.retention, 90 * 24h);
  EXPECT_EQ(load_text("[alerts]\nretention = \"0s\"\n").alerts.retention, 0ms);
  EXPECT_EQ(load_text("[alerts]\nretention = \"0d\"\n").alerts.retention, 0ms);
  const std::string shape = ": expected a duration like \"10s\", \"500ms\" or \"5m\", got ";
  EXPECT_EQ(error_of("[alerts]\nretention = \"forever\"\n"),
            "alerts.retention" + shape + "\"forever\"");
  EXPECT_EQ(error_of("[alerts]\nretention = 30\n"), "alerts.retention" + shape + "30");
  EXPECT_EQ(error_of("[alerts]\nretention = \"-1d\"\n"), "alerts.retention" + shape + "\"-1d\"");
  Config c;
  c.demo = true;
  c.alerts.retention = -1ms;
  try {
    validate(c);
    FAIL() << "negative retention accepted";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "alerts.retention: must not be negative");
  }
  // The example states the default under [alerts].
  std::ifstream in(example_path());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto section = text.find("[alerts]");
  ASSERT_NE(section, std::string::npos);
  const auto next = text.find("\n[", section + 1);
  EXPECT_NE(text.substr(section, next - section).find("retention = \"30d\""), std::string::npos);
}

TEST(ConfigTest, LogLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    EXPECT_EQ(load_text(std::string("log_level = \"") + level + "\"\n").log_level, level);
  }
  EXPECT_EQ(error_of("log_level = \"verbose\"\n"),
            "log_level: expected one of trace, debug, info, warn, error, critical, off, got "
            "\"verbose\"");
  EXPECT_NE(error_of("log_level = \"INFO\"\n"), "");
}

TEST(ConfigTest, OldAlgorithmKeyMapsToTheList) {
  EXPECT_EQ(load_text("[auth]\nalgorithm = \"RS256\"\n").auth.algorithms,
            (std::vector<std::string>{"RS256"}));
  EXPECT_EQ(error_of("[auth]\nalgorithm = \"none\"\n"),
            "auth.algorithm: expected \"HS256\", \"RS256\" or \"ES256\", got \"none\"");
  EXPECT_NE(error_of("[auth]\nalgorithm = \"hs256\"\n"), "");
  EXPECT_NE(error_of("[auth]\nalgorithm = \"HS512\"\n"), "");
}

TEST(ConfigTest, BadListenInFileNamesTheKey) {
  EXPECT_EQ(error_of("listen = \"localhost\"\n").rfind("listen: ", 0), 0u);
}

TEST(ConfigTest, SyntaxErrorIsOneLineWithFileAndLine) {
  TempFile f("threads = 2\n[limits\nmax_batch = 3\n");
  std::string msg = load_error(f.path());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.rfind("config: " + f.path() + ":2: ", 0), 0u) << msg;
  TempFile dup("threads = 1\nthreads = 2\n");
  msg = load_error(dup.path());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(dup.path() + ":2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("already exists"), std::string::npos) << msg;
  TempFile empty_value("a = \n");
  msg = load_error(empty_value.path());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find(empty_value.path() + ":1: "), std::string::npos) << msg;
}

TEST(ConfigTest, MissingFile) {
  const std::string path = "/nonexistent/valtronics.toml";
  try {
    load_file(path);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "config: cannot read /nonexistent/valtronics.toml");
  }
  const std::string dir = fs::temp_directory_path().string();
  EXPECT_THROW(load_file(dir), ConfigError);
}

// ---- set_listen ----

std::string listen_error(const std::string& value, const std::string& key = "listen") {
  Config c;
  try {
    set_listen(c, value, key);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(SetListenTest, Ipv4AndHostnames) {
  Config c;
  set_listen(c, "0.0.0.0:9000");
  EXPECT_EQ(c.listen_host, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 9000);
  set_listen(c, "localhost:1");
  EXPECT_EQ(c.listen_host, "localhost");
  EXPECT_EQ(c.listen_port, 1);
  set_listen(c, "my-host.example.com:65535");
  EXPECT_EQ(c.listen_host, "my-host.example.com");
  EXPECT_EQ(c.listen_port, 65535);
}

TEST(SetListenTest, Ipv6NeedsBrackets) {
  Config c;
  set_listen(c, "[::1]:8000");
  EXPECT_EQ(c.listen_host, "::1");
  EXPECT_EQ(c.listen_port, 8000);
  set_listen(c, "[::]:80");
  EXPECT_EQ(c.listen_host, "::");
  set_listen(c, "[2001:db8::42]:443");
  EXPECT_EQ(c.listen_host, "2001:db8::42");
  EXPECT_NE(listen_error("::1:8000").find("brackets"), std::string::npos);
  EXPECT_NE(listen_error("[::1]"), "");
  EXPECT_NE(listen_error("[::1]8000"), "");
  EXPECT_NE(listen_error("[]:8000"), "");
  EXPECT_NE(listen_error("[not-v6]:8000").find("IPv6"), std::string::npos);
  EXPECT_NE(listen_error("[::1:8000"), "");
}

TEST(SetListenTest, BadPorts) {
  for (const char* v : {"127.0.0.1:65536", "127.0.0.1:99999999999", "127.0.0.1:",
                        "127.0.0.1:http", "127.0.0.1:-1", "127.0.0.1:80a", "127.0.0.1: 80",
                        "[::1]:"}) {
    EXPECT_NE(listen_error(v).find("port"), std::string::npos) << v << ": " << listen_error(v);
  }
}

TEST(SetListenTest, BadShapes) {
  for (const char* v : {"", "8000", "localhost", ":8000", "host name:80", "a/b:80"}) {
    EXPECT_NE(listen_error(v), "") << v;
  }
}

TEST(SetListenTest, ErrorNamesTheGivenKeyAndLeavesConfigAlone) {
  EXPECT_EQ(listen_error("nope", "--listen").rfind("--listen: ", 0), 0u);
  Config c;
  EXPECT_THROW(set_listen(c, "127.0.0.1:70000"), ConfigError);
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8000);
}

// ---- validate ----

Config valid_config() {
  Config c;
  c.auth.jwt_secret = "secret";
  return c;
}

std::string validate_error(const Config& c) {
  try {
    validate(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ValidateTest, DefaultsWithSecretAreValid) { EXPECT_EQ(validate_error(valid_config()), ""); }

TEST(ValidateTest, MissingSecretRefusedUnlessDemo) {
  Config c;
  EXPECT_EQ(validate_error(c).rfind("auth.jwt_secret: ", 0), 0u) << validate_error(c);
  c.demo = true;
  EXPECT_EQ(validate_error(c), "");
}

TEST(ValidateTest, CrossKeyRules) {
  Config c = valid_config();
  c.system.min_frequency = 1min;
  c.system.default_frequency = 30s;
  EXPECT_EQ(validate_error(c),
            "system.default_frequency: must not be below system.min_frequency (30s < 1m)");

  c = valid_config();
  c.limits.max_batch_bytes = 100;
  EXPECT_EQ(validate_error(c).rfind("limits.max_batch_bytes: ", 0), 0u);

  c = valid_config();
  c.auth.algorithms = {"HS512"};
  EXPECT_EQ(validate_error(c).rfind("auth.algorithms: ", 0), 0u);
}

TEST(ValidateTest, ValuesSetByFlagsAreCheckedToo) {
  Config c = valid_config();
  c.threads = 0;
  EXPECT_EQ(validate_error(c).rfind("threads: ", 0), 0u);
  c = valid_config();
  c.log_level = "loud";
  EXPECT_EQ(validate_error(c).rfind("log_level: ", 0), 0u);
  c = valid_config();
  c.limits.max_connections = 0;
  EXPECT_EQ(validate_error(c), "limits.max_connections: expected a positive integer");
  c = valid_config();
  c.limits.messages_per_second = -1;
  EXPECT_EQ(validate_error(c), "limits.messages_per_second: expected a positive number");
  c = valid_config();
  c.auth.auth_timeout = 0ms;
  EXPECT_EQ(validate_error(c).rfind("auth.auth_timeout: ", 0), 0u);
  c = valid_config();
  c.listen_host.clear();
  EXPECT_EQ(validate_error(c).rfind("listen: ", 0), 0u);
}

// (issue 10, durability) server.shutdown_timeout: 5 s by default, a positive duration.
TEST(ServerConfigTest, ShutdownTimeoutDefaultsToFiveSecondsAndMustBePositive) {
  EXPECT_EQ(Config{}.server.shutdown_timeout, 5s);
  EXPECT_EQ(load_text("[server]\nshutdown_timeout = \"750ms\"\n").server.shutdown_timeout, 750ms);
  EXPECT_EQ(error_of("[server]\nshutdown_timeout = \"0s\"\n").rfind("server.shutdown_timeout: ", 0),
            0u);
  EXPECT_EQ(error_of("[server]\nshutdown_timeout = 5\n").rfind("server.shutdown_timeout: ", 0),
            0u);
  Config c = valid_config();
  c.server.shutdown_timeout = 0ms;
  EXPECT_EQ(validate_error(c), "server.shutdown_timeout: must be positive");
}

// (issue 11) server.io_uring: the flush's writes go out in io_uring batches unless turned off.
TEST(ServerConfigTest, IoUringIsOnByDefaultAndTakesABool) {
  EXPECT_TRUE(Config{}.server.io_uring);
  EXPECT_FALSE(load_text("[server]\nio_uring = false\n").server.io_uring);
  EXPECT_TRUE(load_text("[server]\nio_uring = true\n").server.io_uring);
  EXPECT_EQ(error_of("[server]\nio_uring = \"off\"\n"),
            "server.io_uring: expected true or false, got \"off\"");
}

// (issue 12) [mqtt]: off by default; qos 0-2; a prefix a subscription can be built on.
TEST(MqttConfigTest, KeysDefaultsAndErrors) {
  const Config d;
  EXPECT_FALSE(d.mqtt.enabled());
  EXPECT_EQ(d.mqtt.topic_prefix, "valtronics");
  EXPECT_EQ(d.mqtt.qos, 1);
  Config c = load_text("[mqtt]\nurl = \"mqtts://b:8884\"\nusername = \"u\"\npassword = \"p\"\n"
                  "client_id = \"node-a\"\ntopic_prefix = \"site/vt\"\nqos = 2\n"
                  "ca_file = \"/etc/ca.pem\"\n");
  EXPECT_TRUE(c.mqtt.enabled());
  EXPECT_EQ(c.mqtt.url, "mqtts://b:8884");
  EXPECT_EQ(c.mqtt.username, "u");
  EXPECT_EQ(c.mqtt.password, "p");
  EXPECT_EQ(c.mqtt.client_id, "node-a");
  EXPECT_EQ(c.mqtt.topic_prefix, "site/vt");
  EXPECT_EQ(c.mqtt.qos, 2);
  EXPECT_EQ(c.mqtt.ca_file, "/etc/ca.pem");
  EXPECT_EQ(error_of("[mqtt]\nqos = 3\n"), "mqtt.qos: expected 0, 1 or 2, got 3");
  EXPECT_EQ(error_of("[mqtt]\nurl = 1883\n"), "mqtt.url: expected a string, got 1883");
  for (const char* bad : {"", "a/+/b", "vt/#", "/vt", "vt/"}) {
    Config v = valid_config();
    v.mqtt.topic_prefix = bad;
    EXPECT_EQ(validate_error(v).rfind("mqtt.topic_prefix: ", 0), 0u) << bad;
  }
  Config v = valid_config();
  v.mqtt.url = "mqtt://b";
  v.mqtt.ca_file = "/etc/ca.pem";
  EXPECT_EQ(validate_error(v), "mqtt.ca_file: set, but mqtt.url is not mqtts:// (TLS)");
}

TEST(ClusterConfigTest, KeysDefaultsAndErrors) {
  const Config d;
  EXPECT_FALSE(d.cluster.enabled());
  EXPECT_EQ(d.cluster.name, "valtronics");
  EXPECT_EQ(d.cluster.partitions, 16u);
  EXPECT_EQ(d.cluster.lease_ttl, 6s);
  Config c = load_text("[cluster]\nnats_url = \"nats://n:4222\"\nnode_id = \"a-1\"\nname = \"site_2\"\n"
                  "partitions = 32\nlease_ttl = \"3s\"\n");
  EXPECT_TRUE(c.cluster.enabled());
  EXPECT_EQ(c.cluster.nats_url, "nats://n:4222");
  EXPECT_EQ(c.cluster.node_id, "a-1");
  EXPECT_EQ(c.cluster.name, "site_2");
  EXPECT_EQ(c.cluster.partitions, 32u);
  EXPECT_EQ(c.cluster.lease_ttl, 3s);
  EXPECT_EQ(error_of("[cluster]\npartitions = 2000\n"),
            "cluster.partitions: must be at most 1024, got 2000");
  Config v = valid_config();
  v.cluster.nats_url = "nats://n:4222";
  EXPECT_EQ(validate_error(v).rfind("cluster.nats_url: a cluster needs one PostgreSQL", 0), 0u)
      << validate_error(v);
  v.db = "postgresql://u@h:5432/db";
  EXPECT_EQ(validate_error(v), "");
  v.cluster.node_id = "a.b";  // a dot would split its NATS subjects
  EXPECT_EQ(validate_error(v).rfind("cluster.node_id: ", 0), 0u);
  v.cluster.node_id = "";
  v.cluster.name = "x y";
  EXPECT_EQ(validate_error(v).rfind("cluster.name: ", 0), 0u);
  v.cluster.name = "valtronics";
  v.cluster.lease_ttl = 500ms;
  EXPECT_EQ(validate_error(v), "cluster.lease_ttl: must be at least 1s");
}

TEST(SetListenTest, PortZeroMeansAnyFreePort) {
  Config c;
  set_listen(c, "127.0.0.1:0");
  EXPECT_EQ(c.listen_port, 0);
}

// ---- identity providers ----

TEST(IdentityProvidersConfig, KeysAreRead) {
  Config c = load_text(R"([auth]
algorithms = ["RS256", "ES256"]
previous_jwt_secret = "old"
jwks_file = "/etc/jwks.json"
issuer = "https://idp.example/"
audience = "valtronics"
)");
  EXPECT_EQ(c.auth.algorithms, (std::vector<std::string>{"RS256", "ES256"}));
  EXPECT_EQ(c.auth.previous_jwt_secret, "old");
  EXPECT_EQ(c.auth.jwks_file, "/etc/jwks.json");
  EXPECT_EQ(c.auth.issuer, "https://idp.example/");
  EXPECT_EQ(c.auth.audience, "valtronics");
  EXPECT_EQ(load_text("[auth]\npublic_key_file = \"k.pem\"\n").auth.public_key_file, "k.pem");
  EXPECT_EQ(error_of("[auth]\nalgorithms = []\n"),
            "auth.algorithms: expected at least one of \"HS256\", \"RS256\", \"ES256\"");
  EXPECT_EQ(error_of("[auth]\nalgorithms = [\"RS256\", \"none\"]\n"),
            "auth.algorithms: expected \"HS256\", \"RS256\" or \"ES256\", got \"none\"");
  EXPECT_EQ(error_of("[auth]\nalgorithms = \"RS256\"\n"),
            "auth.algorithms: expected an array of strings, got \"RS256\"");
}

TEST(IdentityProvidersConfig, CrossKeyRules) {
  Config c = valid_config();
  c.auth.algorithms = {"RS256"};
  EXPECT_EQ(validate_error(c),
            "auth.algorithms: RS256 needs a public key: set auth.public_key_file or auth.jwks_file");
  c.auth.public_key_file = "k.pem";
  EXPECT_EQ(validate_error(c), "");
  c.auth.jwks_file = "j.json";
  EXPECT_EQ(validate_error(c), "auth.public_key_file and auth.jwks_file: set one of them, not both");

  // No secret needed when HS256 is not accepted.
  c = Config{};
  c.auth.algorithms = {"ES256"};
  c.auth.jwks_file = "j.json";
  EXPECT_EQ(validate_error(c), "");
  // A key file nobody would use is a mistake worth stopping for.
  c = valid_config();
  c.auth.public_key_file = "k.pem";
  EXPECT_EQ(validate_error(c),
            "auth.public_key_file: set, but auth.algorithms accepts neither RS256 nor ES256");
  c = Config{};
  c.auth.previous_jwt_secret = "old";
  c.auth.algorithms = {"HS256"};
  c.demo = true;
  EXPECT_EQ(validate_error(c),
            "auth.previous_jwt_secret: set, but there is no auth.jwt_secret to roll over to");
}

}  // namespace
}  // namespace valtronics::config

// ---- bans, the unauthenticated cap, trusted proxies (issue 10)
namespace valtronics::config {
namespace {

TEST(ConfigTest, BanAndUnauthenticatedKeys) {
  const Config d;
  EXPECT_EQ(d.limits.auth_failures_before_ban, 10u);
  EXPECT_EQ(d.limits.auth_failure_window, 60s);
  EXPECT_EQ(d.limits.ban_duration, 300s);
  EXPECT_EQ(d.limits.max_unauthenticated, 256u);
  EXPECT_TRUE(d.server.trusted_proxies.empty());
  Config c = load_text(
      "[limits]\nauth_failures_before_ban = 3\nauth_failure_window = \"10s\"\n"
      "ban_duration = \"2s\"\nmax_unauthenticated = 5\n");
  EXPECT_EQ(c.limits.auth_failures_before_ban, 3u);
  EXPECT_EQ(c.limits.auth_failure_window, 10s);
  EXPECT_EQ(c.limits.ban_duration, 2s);
  EXPECT_EQ(c.limits.max_unauthenticated, 5u);
  // 0 disables bans; negative is refused, as is a zero cap or window.
  EXPECT_EQ(load_text("[limits]\nauth_failures_before_ban = 0\n").limits.auth_failures_before_ban, 0u);
  EXPECT_EQ(error_of("[limits]\nauth_failures_before_ban = -1\n"),
            "limits.auth_failures_before_ban: expected a non-negative integer (0 disables bans), "
            "got -1");
  EXPECT_EQ(error_of("[limits]\nmax_unauthenticated = 0\n"),
            "limits.max_unauthenticated: expected a positive integer");
  EXPECT_NE(error_of("[limits]\nban_duration = \"0s\"\n").find("limits.ban_duration"),
            std::string::npos);
  EXPECT_NE(error_of("[limits]\nauth_failure_window = 5\n").find("limits.auth_failure_window"),
            std::string::npos);
  Config e = load_file(example_path());
  EXPECT_EQ(e.limits.auth_failures_before_ban, d.limits.auth_failures_before_ban);
  EXPECT_EQ(e.limits.auth_failure_window, d.limits.auth_failure_window);
  EXPECT_EQ(e.limits.ban_duration, d.limits.ban_duration);
  EXPECT_EQ(e.limits.max_unauthenticated, d.limits.max_unauthenticated);
  EXPECT_EQ(e.server.trusted_proxies, d.server.trusted_proxies);
}

TEST(ConfigTest, TrustedProxies) {
  Config c = load_text("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"fd00::/8\", "
                  "\"::1\"]\n");
  EXPECT_EQ(c.server.trusted_proxies,
            (std::vector<std::string>{"10.0.0.0/8", "192.0.2.7", "fd00::/8", "::1"}));
  c.auth.jwt_secret = "x";
  EXPECT_NO_THROW(validate(c));
  const std::string bad_tail =
      " is not an IP address or CIDR network (e.g. \"10.0.0.0/8\", \"192.0.2.7\", \"fd00::/8\"; "
      "no host names, no bits set past the prefix)";
  for (const char* bad : {"proxy.example", "10.0.0.0/33", "10.0.0.1/8", "fd00::/129", "10.0.0.0/",
                          "1.2.3", ""}) {
    EXPECT_EQ(error_of(std::string("[server]\ntrusted_proxies = [\"") + bad + "\"]\n"),
              std::string("server.trusted_proxies: \"") + bad + "\"" + bad_tail)
        << bad;
    Config v;
    v.auth.jwt_secret = "x";
    v.server.trusted_proxies = {bad};
    EXPECT_THROW(validate(v), ConfigError) << bad;
  }
  EXPECT_NE(error_of("[server]\ntrusted_proxies = \"10.0.0.1\"\n").find("server.trusted_proxies"),
            std::string::npos);
}

}  // namespace
}  // namespace valtronics::config
