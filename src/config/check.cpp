// `valtronics config check`'s reading of a file (document.hpp): unlike load_file it goes on after
// an error, so that one run lists every problem with the line to fix.

#include <algorithm>
#include <cctype>
#include <tuple>

#include "config/apply.hpp"
#include "config/document.hpp"

namespace valtronics::config {

namespace {

// The key an error message starts with: "limits.max_batch_bytes: must be ..." and
// "auth.public_key_file and auth.jwks_file: ..." both name their first key this way.
std::string leading_key(const std::string& message) {
  std::size_t n = 0;
  while (n < message.size() && (std::islower(static_cast<unsigned char>(message[n])) ||
                                std::isdigit(static_cast<unsigned char>(message[n])) ||
                                message[n] == '_' || message[n] == '.'))
    ++n;
  return message.substr(0, n);
}

std::string located(const std::string& path, unsigned line, const std::string& message) {
  return path + (line ? ":" + std::to_string(line) : std::string()) + ": " + message;
}

}  // namespace

void FileCheck::add_rule_error(const std::string& message) {
  const std::string key = leading_key(message);
  if (bad_keys.count(key)) return;  // its own error says more
  const auto it = lines.find(key);
  errors.push_back(located(path, it == lines.end() ? 0 : it->second, message));
}

FileCheck check_file(const std::string& path) {
  FileCheck out;
  out.path = path;
  toml::value root;
  try {
    root = detail::parse_toml_file(path);
  } catch (const ConfigError& e) {
    // "config: FILE:LINE: problem": the "config: " is for start-up, where other errors come too.
    std::string message = e.what();
    if (message.rfind("config: ", 0) == 0) message.erase(0, 8);
    out.errors.push_back(message);
    return out;
  }
  out.parsed = true;
  std::vector<detail::KeyError> errors;
  detail::apply_document(
      out.config, root, [&](const detail::KeyError& e) { errors.push_back(e); }, &out.lines);
  std::stable_sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.key) < std::tie(b.line, b.key);
  });
  for (const auto& e : errors) {
    out.bad_keys.insert(e.key);
    out.errors.push_back(located(path, e.line, e.message));
  }
  return out;
}

}  // namespace valtronics::config
