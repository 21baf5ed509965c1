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

// The whole error message of loading the file at `path`, or "" if it loads.
inline std::string load_error(const std::string& path) {
  try {
    load_file(path);
    return "";
  } catch (const ConfigError& e) {
    return e.what();
  }
}

// The error message of loading `content`, or "" if it loads: the first refused key's message,
// without where it is ("config: FILE:LINE: " and, with several, the others: each test names one
// problem; ConfigTest and ConfigCheck check the whole message).
inline std::string error_of(const std::string& content) {
  TempFile f(content);
  std::string m = load_error(f.path());
  if (m.empty()) return m;
  const std::string head = "config: " + f.path();
  if (m.rfind(head, 0) != 0) return m;  // not about a key (the file itself)
  m.erase(0, head.size());
  if (const auto many = m.find(" errors: "); many != std::string::npos && m[0] == ':') {
    m.erase(0, many + 9);                              // "LINE: KEY: problem; LINE: ..."
    if (const auto end = m.find("; "); end != std::string::npos) m.resize(end);
  } else if (m.rfind(": ", 0) == 0) {
    m.erase(0, 2);  // no line
    return m;
  } else {
    m.erase(0, 1);  // ':' before the line
  }
  const auto colon = m.find(": ");
  const bool numbered = colon != std::string::npos &&
                        m.find_first_not_of("0123456789") == colon && colon > 0;
  return numbered ? m.substr(colon + 2) : m;
}

}  // namespace valtronics::config::testing
