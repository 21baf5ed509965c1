// Reading a TOML file and applying its keys through the key table: shared by load_file and
// check_file, which both report every error with its line.
// Internal to src/config/.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <toml.hpp>
#include <vector>

#include "config/config.hpp"

namespace valtronics::config::detail {

// The parsed file. Throws ConfigError "config: FILE[:LINE]: problem" (one line) when it cannot
// be read or is not TOML.
toml::value parse_toml_file(const std::string& path);

struct KeyError {
  std::string key;   // full name, e.g. "limits.max_connections"
  unsigned line = 0; // in the file; 0: unknown
  std::string message;  // "limits.max_connections: expected a positive integer"
};

// Applies every key of `root` to `cfg`, visiting keys sorted (so that "the first error" is the
// same on every run and platform). A key whose value is refused keeps its old value and goes to
// `on_error`, which may throw to stop there. `lines` (if given) gets the line of every key.
void apply_document(Config& cfg, const toml::value& root,
                    const std::function<void(const KeyError&)>& on_error,
                    std::map<std::string, unsigned>* lines = nullptr);

// apply_document going on after errors: every one, in line order (then key order).
std::vector<KeyError> apply_document_all(Config& cfg, const toml::value& root,
                                         std::map<std::string, unsigned>* lines = nullptr);

// "PATH:LINE: message" (without ":LINE" when the line is unknown, 0).
std::string located(const std::string& path, unsigned line, const std::string& message);

}  // namespace valtronics::config::detail
