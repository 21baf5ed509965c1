// The transport-security keys: [tls] cert/key/ca_file, listen_plain, limits.tls_handshake_timeout,
// and validate()'s rules tying them together.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.hpp"

namespace valtronics::config {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

Config load(const std::string& content) {
  static int counter = 0;
  const fs::path path = fs::temp_directory_path() /
                        ("valtronics_tls_config_test_" + std::to_string(::getpid()) + "_" +
                         std::to_string(counter++) + ".toml");
  std::ofstream(path) << content;
  try {
    Config c = load_file(path.string());
    fs::remove(path);
    return c;
  } catch (...) {
    fs::remove(path);
    throw;
  }
}

std::string validate_error(const Config& c) {
  try {
    validate(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

Config with_secret() {
  Config c;
  c.auth.jwt_secret = "s";
  return c;
}

TEST(TlsConfigTest, DefaultsAreOff) {
  Config c;
  EXPECT_FALSE(c.tls.enabled());
  EXPECT_TRUE(c.tls.ca_file.empty());
  EXPECT_TRUE(c.listen_plain_host.empty());
  EXPECT_EQ(c.limits.tls_handshake_timeout, 10s);
}

TEST(TlsConfigTest, KeysAreRead) {
  Config c = load(R"(
listen_plain = "127.0.0.1:8080"
[tls]
cert = "/etc/valtronics/cert.pem"
key = "/etc/valtronics/key.pem"
ca_file = "/etc/valtronics/devices-ca.pem"
[limits]
tls_handshake_timeout = "3s"
)");
  EXPECT_TRUE(c.tls.enabled());
  EXPECT_EQ(c.tls.cert, "/etc/valtronics/cert.pem");
  EXPECT_EQ(c.tls.key, "/etc/valtronics/key.pem");
  EXPECT_EQ(c.tls.ca_file, "/etc/valtronics/devices-ca.pem");
  EXPECT_EQ(c.listen_plain_host, "127.0.0.1");
  EXPECT_EQ(c.listen_plain_port, 8080);
  EXPECT_EQ(c.limits.tls_handshake_timeout, 3s);
}

TEST(TlsConfigTest, BadValuesNameTheKey) {
  auto error_of = [](const std::string& text) -> std::string {
    try {
      load(text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("[tls]\ncert = [\"a\"]\n").find("tls.cert"), std::string::npos);
  EXPECT_NE(error_of("[tls]\nkey = 5\n").find("tls.key"), std::string::npos);
  EXPECT_NE(error_of("[tls]\nsomething = 1\n").find("something"), std::string::npos);
  EXPECT_NE(error_of("listen_plain = \"nope\"\n").find("listen_plain"), std::string::npos);
  EXPECT_NE(error_of("[limits]\ntls_handshake_timeout = \"0s\"\n").find("tls_handshake_timeout"),
            std::string::npos);
}

TEST(TlsConfigTest, ValidateTiesTheKeysTogether) {
  Config c = with_secret();
  EXPECT_EQ(validate_error(c), "");
  c.tls.key = "k.pem";
  EXPECT_NE(validate_error(c).find("tls.cert"), std::string::npos);
  c.tls.key.clear();
  c.tls.cert = "c.pem";
  EXPECT_NE(validate_error(c).find("tls.key"), std::string::npos);
  c.tls.key = "k.pem";
  EXPECT_EQ(validate_error(c), "");

  Config mtls_alone = with_secret();
  mtls_alone.tls.ca_file = "ca.pem";
  EXPECT_NE(validate_error(mtls_alone).find("tls.ca_file"), std::string::npos);

  Config plain_alone = with_secret();
  set_listen_plain(plain_alone, "127.0.0.1:8080");
  EXPECT_NE(validate_error(plain_alone).find("listen_plain"), std::string::npos);
  plain_alone.tls.cert = "c.pem";
  plain_alone.tls.key = "k.pem";
  EXPECT_EQ(validate_error(plain_alone), "");
}

TEST(TlsConfigTest, EmptyValuesMeanOff) {
  Config c = load("listen_plain = \"\"\n[tls]\ncert = \"\"\nkey = \"\"\nca_file = \"\"\n");
  EXPECT_FALSE(c.tls.enabled());
  EXPECT_TRUE(c.listen_plain_host.empty());
}

TEST(TlsConfigTest, ListenPlainTakesTheShapesOfListen) {
  Config c;
  set_listen_plain(c, "[::1]:8081");
  EXPECT_EQ(c.listen_plain_host, "::1");
  EXPECT_EQ(c.listen_plain_port, 8081);
  EXPECT_EQ(c.listen_host, "127.0.0.1");  // the TLS listener is untouched
  EXPECT_THROW(set_listen_plain(c, "127.0.0.1:99999"), ConfigError);
}

}  // namespace
}  // namespace valtronics::config
