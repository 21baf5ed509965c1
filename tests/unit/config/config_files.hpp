// Configuration text in a temporary file, and what loading it gives, for the config tests.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"

namespace valtronics::config::testing {

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("valtronics_config_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++) + ".toml");
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline Config load_text(const std::string& content) {
  TempFile f(content);
  return load_file(f.path());
}

// The error message of loading `content`, or "" if it loads.
inline std::string error_of(const std::string& content) {
  try {
    load_text(content);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace valtronics::config::testing
