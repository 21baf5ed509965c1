// Certificates for the TLS unit tests, made at test time with the openssl CLI in a temporary
// directory: a CA, a server certificate for 127.0.0.1/localhost signed by it (CN given), and a
// key that matches nothing. Removed with the object.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace valtronics::net::testing {

class TestPki {
 public:
  TestPki() {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("valtronics_pki_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
    key("ca.key");
    run("openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj /CN=test-ca");
    server("server", "valtronics-unit-1");
    key("other.key");
  }
  ~TestPki() { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // NAME.pem and NAME.key, CN=`cn`, signed by the CA.
  void server(const std::string& name, const std::string& cn) {
    key(name + ".key");
    std::ofstream(dir_ / (name + ".ext"))
        << "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
    run("openssl req -new -key " + name + ".key -out " + name + ".csr -subj /CN=" + cn);
    run("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " +
        name + ".pem -days 2 -extfile " + name + ".ext");
  }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
  }

 private:
  void key(const std::string& name) {
    run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + name);
  }
  void run(const std::string& cmd) {
    const std::string full = "cd '" + dir_.string() + "' && " + cmd + " >/dev/null 2>&1";
    if (std::system(full.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
  }
  std::filesystem::path dir_;
};

}  // namespace valtronics::net::testing
