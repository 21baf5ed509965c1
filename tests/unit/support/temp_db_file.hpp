// A unique temporary database for the store and engine tests, removed at scope exit.
//
// By default a real SQLite file (with its -wal/-shm companions): WAL mode and durability only
// exist there. When VALTRONICS_TEST_POSTGRES names a file holding a PostgreSQL URI (written by
// tests/postgres/pg-fixture, which ctest runs before the `postgres.` copies of the store tests),
// it is a fresh PostgreSQL database on that server instead, created here and dropped at scope
// exit; str() is then its URI. Tests of what only SQLite has skip themselves there
// (SKIP_UNLESS_SQLITE).
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "store/db.hpp"

namespace valtronics::store {

class TempDbFile {
 public:
  // The maintenance URI of the test PostgreSQL server, or "" when the tests use SQLite.
  static std::string postgres_server() {
    const char* file = std::getenv("VALTRONICS_TEST_POSTGRES");
    if (!file || !*file) return "";
    std::ifstream in(file);
    std::string uri;
    std::getline(in, uri);
    if (uri.empty())
      throw std::runtime_error(std::string("VALTRONICS_TEST_POSTGRES: no URI in ") + file);
    return uri;
  }
  static bool postgres() { return !postgres_server().empty(); }

  TempDbFile() {
    static std::atomic<int> counter{0};
    auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    const std::string name = "valtronics_test_" + std::to_string(::getpid()) + "_" +
                             std::to_string(counter++) + "_" + std::to_string(stamp % 1000000);
    server_ = postgres_server();
    if (!server_.empty()) {
      auto admin = Database::open(server_);
      admin.exec("CREATE DATABASE " + name);
      name_ = name;
      // The server's URI with the new database's name in place of the maintenance one.
      uri_ = server_.substr(0, server_.rfind('/') + 1) + name;
      return;
    }
    path_ = std::filesystem::temp_directory_path() /
            ("valtronics-store-test-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++) + "-" + std::to_string(stamp) + ".db");
  }
  ~TempDbFile() {
    if (!name_.empty()) {
      try {
        auto admin = Database::open(server_);
        admin.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
      } catch (...) {
      }
      return;
    }
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      std::filesystem::remove(path_.string() + suffix, ec);
  }
  TempDbFile(const TempDbFile&) = delete;
  TempDbFile& operator=(const TempDbFile&) = delete;
  // What Database::open takes: the file's path, or the PostgreSQL database's URI.
  std::string str() const { return name_.empty() ? path_.string() : uri_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::string server_, name_, uri_;
};

}  // namespace valtronics::store

// For a test of what only SQLite has (WAL, file locks, PRAGMAs, the file's bytes).
#define SKIP_UNLESS_SQLITE()                                                   \
  do {                                                                         \
    if (::valtronics::store::TempDbFile::postgres())                           \
      GTEST_SKIP() << "SQLite only: this checks what a file database has";     \
  } while (0)
