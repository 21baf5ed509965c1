// `valtronics config check`'s reading of a file (document.hpp): every problem with the line to
// fix, one per line, the cross-key rules included.

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

}  // namespace

void FileCheck::add_rule_error(const std::string& message) {
  const std::string key = leading_key(message);
  if (bad_keys.count(key)) return;  // its own error says more
  const auto it = lines.find(key);
  errors.push_back(detail::located(path, it == lines.end() ? 0 : it->second, message));
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
  for (const auto& e : detail::apply_document_all(out.config, root, &out.lines)) {
    out.bad_keys.insert(e.key);
    out.errors.push_back(detail::located(path, e.line, e.message));
  }
  return out;
}

}  // namespace valtronics::config
