// (issue 13) The key table and what is built on it: render() round-trips and masks secrets,
// restart_needed() lists exactly the changed keys a SIGHUP cannot apply, init_file() is a
// complete loadable file and is config/valtronics.example.toml, check_file() reports every
// error with its line, and the new keys log_format and [metrics].

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config.hpp"
#include "config_files.hpp"
#include "config/document.hpp"
#include "config/table.hpp"

namespace valtronics::config {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using testing::error_of;
using testing::load_text;
using testing::TempFile;

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Everything differs from the defaults, including the awkward cases of the writers: IPv6
// listeners, quotes, backslashes and control characters in strings, fractional numbers,
// milliseconds and zero durations, empty and non-empty arrays.
Config everything_changed() {
  Config c;
  c.listen_host = "::1";
  c.listen_port = 9001;
  c.listen_plain_host = "127.0.0.1";
  c.listen_plain_port = 8081;
  c.threads = 3;
  c.log_level = "debug";
  c.log_format = "json";
  c.demo = true;
  c.db = "postgresql://vt:pw@db.example:5432/vt?sslmode=require";
  c.tls = {"/etc/c\"ert.pem", "C:\\keys\\k.pem", "/etc/ca.pem"};
  c.auth.jwt_secret = "line1\nline2\ttab\x01";
  c.auth.auth_timeout = 1500ms;
  c.auth.leeway = 0ms;
  c.auth.allowed_origins = {"https://a.example", "*"};
  c.auth.expiry_warning = 2min;
  c.auth.algorithms = {"HS256", "ES256"};
  c.auth.previous_jwt_secret = "old";
  c.auth.jwks_file = "/etc/jwks.json";
  c.auth.issuer = "https://idp.example/";
  c.auth.audience = "valtronics";
  c.limits.max_connections = 11;
  c.limits.messages_per_second = 14.5;
  c.limits.control_frames_per_second = 0.1;
  c.limits.conflate_after = 0ms;
  c.limits.auth_failures_before_ban = 0;
  c.limits.ban_duration = 36h;
  c.ingest.auto_register = false;
  c.devices.offline_alert = false;
  c.telemetry.retention = 7 * 24h;
  c.alerts.replay_max_alerts = 5;
  c.server.trusted_proxies = {"10.0.0.0/8", "fd00::/8"};
  c.server.io_uring = false;
  c.system.min_frequency = 500ms;
  c.mqtt.url = "mqtts://u:p@broker:8883";
  c.mqtt.password = "p";
  c.mqtt.qos = 2;
  c.cluster.nats_url = "nats://a:4222,nats://b:4222";
  c.cluster.partitions = 64;
  c.metrics.listen_host = "0.0.0.0";
  c.metrics.listen_port = 9100;
  c.metrics.allow = {};
  return c;
}

// ---- the table ----

TEST(ConfigTable, EveryKeyHasADocAReaderAndAWriter) {
  std::set<std::string> names;
  std::size_t keys = 0;
  for (const auto& section : table()) {
    for (const auto& key : section.keys) {
      const std::string name = full_name(section, key);
      EXPECT_TRUE(names.insert(name).second) << name << " twice";
      EXPECT_GT(std::string(key.doc).size(), 10u) << name << ": no doc";
      EXPECT_NE(key.set, nullptr) << name;
      EXPECT_NE(key.get, nullptr) << name;
      ++keys;
    }
    if (*section.name) {
      EXPECT_NE(std::string(section.doc), "") << section.name;
    }
  }
  EXPECT_GT(keys, 70u);
  for (const char* k : {"listen", "log_format", "metrics.listen", "metrics.allow", "db",
                        "auth.jwt_secret", "limits.conflate_after", "cluster.lease_ttl"})
    EXPECT_TRUE(names.count(k)) << k;
}

TEST(ConfigTable, SecretsAndLiveKeysAreMarked) {
  const auto flags = [](const char* section, const char* name) {
    const Section* s = find_section(section);
    const Key* k = s ? find_key(*s, name) : nullptr;
    EXPECT_NE(k, nullptr) << section << "." << name;
    return k ? std::pair{k->secret, is_live(*s, *k)} : std::pair{Secret::none, false};
  };
  EXPECT_EQ(flags("auth", "jwt_secret").first, Secret::whole);
  EXPECT_EQ(flags("auth", "previous_jwt_secret").first, Secret::whole);
  EXPECT_EQ(flags("mqtt", "password").first, Secret::whole);
  EXPECT_EQ(flags("", "db").first, Secret::url_password);
  EXPECT_EQ(flags("mqtt", "url").first, Secret::url_password);
  EXPECT_EQ(flags("cluster", "nats_url").first, Secret::url_userinfo);
  // What app/config_reload.cpp applies; the key and certificate files' paths are not live (their
  // contents are read again on SIGHUP, from the paths the server started with).
  for (const auto& [s, k] : std::vector<std::pair<const char*, const char*>>{
           {"", "log_level"}, {"auth", "allowed_origins"},
           {"limits", "max_connections"}, {"limits", "conflate_after"}})
    EXPECT_TRUE(flags(s, k).second) << s << "." << k;
  for (const auto& [s, k] : std::vector<std::pair<const char*, const char*>>{
           {"", "listen"}, {"", "db"}, {"", "threads"}, {"", "log_format"},
           {"auth", "jwt_secret"}, {"cluster", "nats_url"}, {"metrics", "listen"},
           {"tls", "cert"}, {"tls", "key"}, {"tls", "ca_file"}, {"auth", "public_key_file"},
           {"auth", "jwks_file"}})
    EXPECT_FALSE(flags(s, k).second) << s << "." << k;
}

// ---- render ----

TEST(ConfigRender, DefaultsLoadBackEqual) {
  const std::string text = render(Config{}, false);
  Config loaded;
  ASSERT_NO_THROW(loaded = load_text(text)) << text;
  EXPECT_EQ(render(loaded, false), text);
  EXPECT_NE(text.find("listen = \"127.0.0.1:8000\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n[limits]\nmax_connections = 1000\n"), std::string::npos);
  EXPECT_NE(text.find("conflate_after = \"20ms\"\n"), std::string::npos);
  EXPECT_NE(text.find("allowed_origins = []\n"), std::string::npos);
  EXPECT_NE(text.find("allow = [\"127.0.0.0/8\", \"::1\"]\n"), std::string::npos);
  EXPECT_EQ(text.find("algorithm ="), std::string::npos) << "an alias is never written";
}

TEST(ConfigRender, EveryValueLoadsBackEqual) {
  const Config c = everything_changed();
  const std::string text = render(c, false);
  Config loaded;
  ASSERT_NO_THROW(loaded = load_text(text)) << text;
  EXPECT_EQ(render(loaded, false), text);
  EXPECT_EQ(loaded.listen_host, "::1");
  EXPECT_EQ(loaded.listen_port, 9001);
  EXPECT_EQ(loaded.tls.cert, "/etc/c\"ert.pem");
  EXPECT_EQ(loaded.tls.key, "C:\\keys\\k.pem");
  EXPECT_EQ(loaded.auth.jwt_secret, c.auth.jwt_secret);
  EXPECT_EQ(loaded.auth.auth_timeout, 1500ms);
  EXPECT_EQ(loaded.auth.leeway, 0ms);
  EXPECT_DOUBLE_EQ(loaded.limits.messages_per_second, 14.5);
  EXPECT_DOUBLE_EQ(loaded.limits.control_frames_per_second, 0.1);
  EXPECT_EQ(loaded.limits.ban_duration, 36h);
  EXPECT_EQ(loaded.metrics.listen_host, "0.0.0.0");
  EXPECT_EQ(loaded.metrics.listen_port, 9100);
  EXPECT_TRUE(loaded.metrics.allow.empty());
  EXPECT_EQ(loaded.cluster.nats_url, c.cluster.nats_url);
}

TEST(ConfigRender, MaskHidesEverySecret) {
  Config c;
  c.auth.jwt_secret = "topsecret1";
  c.auth.previous_jwt_secret = "topsecret2";
  c.mqtt.password = "topsecret3";
  c.db = "postgresql://vt:topsecret4@db:5432/vt?sslmode=require&password=topsecret5";
  c.cluster.nats_url = "nats://topsecret6@a:4222,nats://ops:topsecret7@b:4222";
  c.mqtt.url = "mqtts://dev:topsecret8@broker:8883";
  const std::string masked = render(c, true);
  EXPECT_EQ(masked.find("topsecret"), std::string::npos) << masked;
  EXPECT_NE(masked.find("jwt_secret = \"***\"\n"), std::string::npos) << masked;
  EXPECT_NE(masked.find("db = \"postgresql://vt:***@db:5432/vt?sslmode=require&password=***\""),
            std::string::npos)
      << masked;
  EXPECT_NE(masked.find("nats_url = \"nats://***@a:4222,nats://ops:***@b:4222\""),
            std::string::npos)
      << masked;
  EXPECT_NE(masked.find("url = \"mqtts://dev:***@broker:8883\""), std::string::npos) << masked;
  // Still a file that loads (with the secrets replaced, of course).
  EXPECT_NO_THROW(load_text(masked)) << masked;
  // Unmasked it is all there.
  const std::string plain = render(c, false);
  for (const char* s : {"topsecret1", "topsecret2", "topsecret3", "topsecret4", "topsecret5",
                        "topsecret6", "topsecret7", "topsecret8"})
    EXPECT_NE(plain.find(s), std::string::npos) << s;
}

TEST(ConfigRender, UnsetSecretsStayEmptyAndUrlsWithoutPasswordsStayAsTheyAre) {
  Config c;
  c.db = "postgresql://vt@db:5432/vt";
  c.cluster.nats_url = "nats://a:4222";
  const std::string masked = render(c, true);
  EXPECT_NE(masked.find("jwt_secret = \"\"\n"), std::string::npos) << masked;
  EXPECT_NE(masked.find("password = \"\"\n"), std::string::npos) << masked;
  EXPECT_NE(masked.find("db = \"postgresql://vt@db:5432/vt\"\n"), std::string::npos) << masked;
  EXPECT_NE(masked.find("nats_url = \"nats://a:4222\"\n"), std::string::npos) << masked;
}

// ---- restart_needed ----

TEST(ConfigRestart, NothingChangedNothingNeeded) {
  EXPECT_TRUE(restart_needed(Config{}, Config{}).empty());
  EXPECT_TRUE(restart_needed(everything_changed(), everything_changed()).empty());
}

TEST(ConfigRestart, LiveKeysAreNeverListed) {
  Config loaded;
  loaded.log_level = "debug";
  loaded.limits.max_connections = 5;
  loaded.limits.conflate_after = 0ms;
  loaded.auth.allowed_origins = {"*"};
  EXPECT_EQ(restart_needed(Config{}, loaded), std::vector<std::string>{});
  EXPECT_EQ(live_changes(Config{}, loaded),
            (std::vector<std::string>{"log_level", "auth.allowed_origins",
                                      "limits.max_connections", "limits.conflate_after"}));
}

// The files' contents are read again on SIGHUP, from the paths the server started with: a new
// path needs a restart.
TEST(ConfigRestart, KeyAndCertificatePathsNeedARestart) {
  Config loaded;
  loaded.tls.cert = "/new/cert.pem";
  loaded.tls.key = "/new/key.pem";
  loaded.tls.ca_file = "/new/ca.pem";
  loaded.auth.public_key_file = "/new/idp.pem";
  loaded.auth.jwks_file = "/new/jwks.json";
  EXPECT_EQ(restart_needed(Config{}, loaded),
            (std::vector<std::string>{"tls.cert", "tls.key", "tls.ca_file",
                                      "auth.public_key_file", "auth.jwks_file"}));
  EXPECT_EQ(live_changes(Config{}, loaded), std::vector<std::string>{});
}

TEST(ConfigRestart, OtherChangesAreListedByFullName) {
  Config loaded;
  loaded.listen_port = 9000;
  loaded.db = "other.db";
  loaded.cluster.nats_url = "nats://n:4222";
  loaded.auth.jwt_secret = "new";
  loaded.metrics.allow = {"10.0.0.0/8"};
  loaded.log_level = "warn";  // live: not listed
  EXPECT_EQ(restart_needed(Config{}, loaded),
            (std::vector<std::string>{"listen", "db", "auth.jwt_secret", "cluster.nats_url",
                                      "metrics.allow"}));
  // Every key of everything_changed() that is not live.
  const auto all = restart_needed(Config{}, everything_changed());
  EXPECT_NE(std::find(all.begin(), all.end(), "threads"), all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "metrics.listen"), all.end());
  EXPECT_EQ(std::find(all.begin(), all.end(), "limits.max_connections"), all.end());
}

// ---- config init ----

TEST(ConfigInit, IsACompleteLoadableFileOfDefaults) {
  const std::string text = init_file();
  TempFile f(text);
  Config loaded;
  ASSERT_NO_THROW(loaded = load_file(f.path())) << text;
  EXPECT_EQ(render(loaded, false), render(Config{}, false));
  // Each key preceded by its doc (the start of it, the rest wrapped over more lines).
  for (const auto& section : table()) {
    if (*section.name) {
      EXPECT_NE(text.find(std::string("\n[") + section.name + "]\n"), std::string::npos);
    }
    for (const auto& key : section.keys) {
      if (key.alias) continue;
      const std::string doc_start = std::string(key.doc).substr(0, 20);
      const auto doc = text.find("# " + doc_start);
      ASSERT_NE(doc, std::string::npos) << full_name(section, key);
      EXPECT_LT(doc, text.find("\n" + std::string(key.name) + " = ", doc));
    }
  }
  // Lines end by column 98 (a word longer than a line aside).
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("# ", 0) == 0) {
      EXPECT_LE(line.size(), 98u) << line;
    }
  // As generated it lacks only a secret: what `config check` reports unless the environment
  // gives one.
  const auto errors = validation_errors(loaded);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("auth.jwt_secret: ", 0), 0u) << errors[0];
  loaded.auth.jwt_secret = "x";
  EXPECT_NO_THROW(validate(loaded));
}

TEST(ConfigInit, ExampleFileIsTheOutputOfConfigInit) {
  const std::string example =
      (fs::path(VALTRONICS_SOURCE_DIR) / "config" / "valtronics.example.toml").string();
  EXPECT_TRUE(read(example) == init_file())
      << example << " differs from `valtronics config init`; regenerate it with\n"
      << "  build/valtronics config init > config/valtronics.example.toml";
}

// ---- config check ----

TEST(ConfigCheck, ValidFileHasNoErrors) {
  TempFile f("[auth]\njwt_secret = \"s\"\n");
  const FileCheck check = check_file(f.path());
  EXPECT_TRUE(check.parsed);
  EXPECT_TRUE(check.errors.empty());
  EXPECT_TRUE(validation_errors(check.config).empty());
}

TEST(ConfigCheck, EveryErrorWithItsKeyAndLine) {
  TempFile f(
      "threads = 0\n"                        // 1
      "log_format = \"xml\"\n"               // 2
      "\n"                                   // 3
      "[limits]\n"                           // 4
      "max_connections = \"many\"\n"         // 5
      "max_conections = 5\n"                 // 6
      "max_batch = 7\n"                      // 7: fine
      "\n"                                   // 8
      "[database]\n"                         // 9
      "url = \"x\"\n"                        // 10
      "[metrics]\n"                          // 11
      "allow = [\"10.0.0.1/8\"]\n"           // 12
      "listen = \"nowhere\"\n");             // 13
  const FileCheck check = check_file(f.path());
  const std::string p = f.path();
  EXPECT_TRUE(check.parsed);
  EXPECT_EQ(check.errors,
            (std::vector<std::string>{
                p + ":1: threads: expected a positive integer",
                p + ":2: log_format: expected \"text\" or \"json\", got \"xml\"",
                p + ":5: limits.max_connections: expected a positive integer",
                p + ":6: unknown key 'limits.max_conections'",
                p + ":9: unknown section '[database]'",
                p + ":12: metrics.allow: \"10.0.0.1/8\" is not an IP address or CIDR network "
                    "(e.g. \"10.0.0.0/8\", \"192.0.2.7\", \"fd00::/8\"; no host names, no bits "
                    "set past the prefix)",
                p + ":13: metrics.listen: expected HOST:PORT (IPv6 as [::1]:8000), got "
                    "\"nowhere\"",
            }));
  EXPECT_EQ(check.config.limits.max_batch, 7u);  // the good keys are applied
  EXPECT_EQ(check.lines.at("limits.max_batch"), 7u);
}

TEST(ConfigCheck, RuleErrorsCarryTheLineOfTheirKey) {
  TempFile f(
      "[system]\n"
      "default_frequency = \"1s\"\n"
      "min_frequency = \"1m\"\n"
      "[limits]\n"
      "max_message_bytes = 0\n");
  FileCheck check = check_file(f.path());
  ASSERT_EQ(check.errors.size(), 1u);  // max_message_bytes = 0
  for (const auto& e : validation_errors(check.config)) check.add_rule_error(e);
  const std::string p = f.path();
  ASSERT_EQ(check.errors.size(), 3u) << ::testing::PrintToString(check.errors);
  EXPECT_EQ(check.errors[0], p + ":5: limits.max_message_bytes: expected a positive integer");
  // Not in the file: no line.
  EXPECT_EQ(check.errors[1].rfind(p + ": auth.jwt_secret: no JWT secret configured", 0), 0u)
      << check.errors[1];
  EXPECT_EQ(check.errors[2],
            p + ":2: system.default_frequency: must not be below system.min_frequency (1s < 1m)");
}

TEST(ConfigCheck, SyntaxErrorIsOneErrorWithItsLine) {
  TempFile f("threads = 2\n[limits\nmax_batch = 3\n");
  const FileCheck check = check_file(f.path());
  EXPECT_FALSE(check.parsed);
  ASSERT_EQ(check.errors.size(), 1u);
  EXPECT_EQ(check.errors[0].rfind(f.path() + ":2: ", 0), 0u) << check.errors[0];
}

TEST(ConfigCheck, UnreadableFile) {
  const FileCheck check = check_file("/nonexistent/valtronics.toml");
  EXPECT_FALSE(check.parsed);
  EXPECT_EQ(check.errors, std::vector<std::string>{"cannot read /nonexistent/valtronics.toml"});
}

TEST(ConfigCheck, LoadFileNamesEveryErrorWithItsLineOnOneLine) {
  // What `serve` prints at start-up (and SIGHUP logs): every refused key, in line order.
  TempFile two("threads = 0\n[limits]\nmax_connections = 0\n");
  try {
    load_file(two.path());
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "config: " + two.path() +
                  ": 2 errors: 1: threads: expected a positive integer; 3: "
                  "limits.max_connections: expected a positive integer");
  }
  TempFile one("[limits]\n\nmax_batch = \"x\"\n");
  try {
    load_file(one.path());
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("config: " + one.path() + ":3: limits.max_batch: ", 0),
              0u)
        << e.what();
  }
  EXPECT_EQ(error_of("threads = 0\n[limits]\nmax_connections = 0\n"),
            "threads: expected a positive integer");  // the first, in line order
}

// ---- validation_errors ----

TEST(ConfigValidationErrors, EveryBrokenRuleAndValidateThrowsTheFirst) {
  Config c;
  c.auth.jwt_secret = "s";
  c.threads = 0;
  c.log_level = "loud";
  c.log_format = "yaml";
  c.system.min_frequency = 1h;
  c.metrics.allow = {"host.example"};
  const auto errors = validation_errors(c);
  ASSERT_EQ(errors.size(), 5u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0].rfind("threads: ", 0), 0u);
  EXPECT_EQ(errors[1].rfind("log_level: ", 0), 0u);
  EXPECT_EQ(errors[2], "log_format: expected \"text\" or \"json\", got \"yaml\"");
  EXPECT_EQ(errors[3].rfind("system.default_frequency: ", 0), 0u);
  EXPECT_EQ(errors[4].rfind("metrics.allow: \"host.example\" is not", 0), 0u);
  try {
    validate(c);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.what(), errors[0]);
  }
}

// ---- log_format and [metrics] ----

TEST(ConfigLogFormat, TextOrJson) {
  EXPECT_EQ(Config{}.log_format, "text");
  EXPECT_EQ(load_text("log_format = \"json\"\n").log_format, "json");
  EXPECT_EQ(load_text("log_format = \"text\"\n").log_format, "text");
  EXPECT_EQ(error_of("log_format = \"xml\"\n"),
            "log_format: expected \"text\" or \"json\", got \"xml\"");
  EXPECT_EQ(error_of("log_format = 1\n"), "log_format: expected a string, got 1");
}

TEST(ConfigMetrics, ListenAndAllow) {
  const Config d;
  EXPECT_FALSE(d.metrics.listen_enabled());
  EXPECT_EQ(d.metrics.allow, (std::vector<std::string>{"127.0.0.0/8", "::1"}));
  Config c = load_text("[metrics]\nlisten = \"127.0.0.1:9100\"\nallow = [\"10.0.0.0/8\", "
                       "\"192.0.2.7\", \"fd00::/8\"]\n");
  EXPECT_EQ(c.metrics.listen_host, "127.0.0.1");
  EXPECT_EQ(c.metrics.listen_port, 9100);
  EXPECT_EQ(c.metrics.allow,
            (std::vector<std::string>{"10.0.0.0/8", "192.0.2.7", "fd00::/8"}));
  c = load_text("[metrics]\nlisten = \"[::1]:9100\"\nallow = []\n");
  EXPECT_EQ(c.metrics.listen_host, "::1");
  EXPECT_TRUE(c.metrics.allow.empty());
  EXPECT_FALSE(load_text("[metrics]\nlisten = \"\"\n").metrics.listen_enabled());
  // The main listener is untouched by metrics.listen.
  EXPECT_EQ(c.listen_port, 8000);
  EXPECT_EQ(error_of("[metrics]\nlisten = \"9100\"\n").rfind("metrics.listen: ", 0), 0u);
  EXPECT_EQ(error_of("[metrics]\nlisten = \"127.0.0.1:99999\"\n").rfind("metrics.listen: port", 0),
            0u);
  EXPECT_EQ(error_of("[metrics]\nallow = [\"prometheus.local\"]\n")
                .rfind("metrics.allow: \"prometheus.local\" is not an IP address", 0),
            0u);
  EXPECT_EQ(error_of("[metrics]\nallow = \"127.0.0.1\"\n"),
            "metrics.allow: expected an array of strings, got \"127.0.0.1\"");
  EXPECT_EQ(error_of("[metrics]\nport = 9100\n"), "unknown key 'metrics.port'");
}

}  // namespace
}  // namespace valtronics::config
