// `valtronics version`: the version, the git commit it was built from and the versions of the
// libraries linked, for bug reports. VALTRONICS_VERSION and VALTRONICS_GIT_COMMIT are defined
// for this file only (CMakeLists.txt, read at configure time), so a new commit recompiles this
// file and nothing else. Shared libraries report the version loaded at run time; header-only
// ones (and those without a run-time query) the version compiled against. toml11, libjwt and
// prometheus-cpp expose no version, so none is printed for them.
#include <libpq-fe.h>
#include <mosquitto.h>
#include <nats/nats.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <spdlog/version.h>

#include <CLI/Version.hpp>
#include <boost/version.hpp>
#include <cstdio>
#include <fmt/core.h>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.hpp"

#ifndef VALTRONICS_VERSION
#define VALTRONICS_VERSION "unknown"
#endif
#ifndef VALTRONICS_GIT_COMMIT
#define VALTRONICS_GIT_COMMIT "unknown"
#endif

namespace valtronics::cli {

namespace {

std::string dotted(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

// PQlibVersion(): 150005 is 15.5 (since PostgreSQL 10), 90603 is 9.6.3.
std::string libpq_version() {
  const int v = PQlibVersion();
  if (v >= 100000) return std::to_string(v / 10000) + "." + std::to_string(v % 10000);
  return dotted(v / 10000, v / 100 % 100, v % 100);
}

std::string mosquitto_version() {
  int major = 0, minor = 0, revision = 0;
  mosquitto_lib_version(&major, &minor, &revision);
  return dotted(major, minor, revision);
}

// "OpenSSL 3.0.11 19 Sep 2023" -> "3.0.11 19 Sep 2023".
std::string openssl_version() {
  std::string v = OpenSSL_version(OPENSSL_VERSION);
  if (v.rfind("OpenSSL ", 0) == 0) v.erase(0, 8);
  return v;
}

std::vector<std::pair<const char*, std::string>> libraries() {
  return {
      {"Boost", dotted(BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000, BOOST_VERSION % 100)},
      {"OpenSSL", openssl_version()},
      {"SQLite", sqlite3_libversion()},
      {"libpq", libpq_version()},
      {"libmosquitto", mosquitto_version()},
      {"cnats", nats_GetVersion()},
      {"spdlog", dotted(SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH)},
      {"fmt", dotted(FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100)},
      {"CLI11", CLI11_VERSION},
  };
}

}  // namespace

std::string version_line() {
  return std::string("valtronics ") + VALTRONICS_VERSION + " (commit " + VALTRONICS_GIT_COMMIT +
         ")";
}

Runner add_version(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the version, git commit and library versions");
  cmd->footer(
      "Examples:\n"
      "  valtronics version\n"
      "  valtronics --version        # the first line only");
  return [] {
    std::printf("%s\n", version_line().c_str());
    for (const auto& [name, version] : libraries())
      std::printf("  %-13s %s\n", name, version.c_str());
    return 0;
  };
}

}  // namespace valtronics::cli
