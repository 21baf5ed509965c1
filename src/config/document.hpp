// The configuration file as a document, for `valtronics config`: writing a complete commented
// one (init), and checking one with every error and its line (check). load_file() is the
// server's path: it stops at the first error.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace valtronics::config {

// A complete configuration file: every section and key from the key table, each preceded by its
// doc, set to its default (secrets empty). config/valtronics.example.toml is this text.
std::string init_file();

// Every cross-key rule's error ("KEY: problem"), in validate()'s order; validate() throws the
// first.
std::vector<std::string> validation_errors(const Config& cfg);

// The result of checking a file.
struct FileCheck {
  std::string path;
  Config config;  // the file over the defaults; a key in error keeps its default
  bool parsed = false;  // false: unreadable or not TOML (one error), `config` is the defaults
  std::vector<std::string> errors;  // "PATH:LINE: KEY: problem", per-key errors in line order
  std::map<std::string, unsigned> lines;  // every key of the file -> its line
  std::set<std::string> bad_keys;         // keys whose value was refused

  // Adds the error of a cross-key rule, "KEY: problem", as "PATH:LINE: KEY: problem" with the
  // line of KEY when the file sets it; dropped when KEY's own value was refused already.
  void add_rule_error(const std::string& message);
};

// Reads `path`: a syntax error, or every unknown key and refused value with its line. The
// cross-key rules are left to the caller (after it applied what serve would: the environment),
// through add_rule_error().
FileCheck check_file(const std::string& path);

}  // namespace valtronics::config
