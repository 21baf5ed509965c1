// Parsing a configuration file and applying its keys through the key table (apply.hpp).

#include "config/apply.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>
#include <vector>

#include "config/table.hpp"
#include "config/values.hpp"

namespace valtronics::config::detail {

namespace {

std::vector<std::string> sorted_keys(const toml::table& t) {
  std::vector<std::string> keys;
  keys.reserve(t.size());
  for (const auto& [k, v] : t) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

// toml11 reports syntax errors as a multi-line source excerpt; start-up errors must be one line.
// Keep the headline, the line number of the last marked source line and its annotation:
// "FILE:2: value ("x") already exists. (value defined twice)".
std::string condense_toml_error(const std::string& what, const std::string& path,
                                unsigned fallback_line) {
  std::istringstream in(what);
  std::string line, headline, annotation;
  unsigned line_no = fallback_line;
  unsigned last_source_line = 0;
  bool first = true;
  while (std::getline(in, line)) {
    if (first) {
      headline = trim(line);
      first = false;
      continue;
    }
    // Source lines look like " 12 | text"; markers like "    |   ^--- note".
    const auto bar = line.find('|');
    if (bar != std::string::npos) {
      const std::string left = trim(line.substr(0, bar));
      if (!left.empty() && all_digits(left)) {
        last_source_line = static_cast<unsigned>(std::stoul(left));
      }
      const auto marker = line.find("^---", bar);
      if (marker != std::string::npos) {
        annotation = trim(line.substr(marker + 4));
        if (last_source_line) line_no = last_source_line;
      }
    }
  }
  if (headline.rfind("[error]", 0) == 0) headline = trim(headline.substr(7));
  // Drop toml11's internal function name ("toml::parse_key_value_pair: ").
  if (headline.rfind("toml::", 0) == 0) {
    const auto colon = headline.find(": ");
    if (colon != std::string::npos) headline = headline.substr(colon + 2);
  }
  std::string out = "config: " + path;
  if (line_no) out += ":" + std::to_string(line_no);
  out += ": " + headline;
  if (!annotation.empty() && annotation != "here") out += " (" + annotation + ")";
  return out;
}

unsigned line_of(const toml::value& v) { return static_cast<unsigned>(v.location().line()); }

}  // namespace

toml::value parse_toml_file(const std::string& path) {
  std::error_code fs_ec;
  if (std::filesystem::is_directory(path, fs_ec)) fail("config: cannot read " + path);
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("config: cannot read " + path);
  std::stringstream content;
  content << file.rdbuf();
  if (file.bad()) fail("config: cannot read " + path);

  toml::value root;
  try {
    root = toml::parse(content, path);
  } catch (const toml::exception& e) {
    fail(condense_toml_error(e.what(), path, e.location().line()));
  } catch (const std::exception& e) {
    fail(condense_toml_error(e.what(), path, 0));
  }
  if (!root.is_table()) fail("config: " + path + ": expected a TOML table at top level");
  return root;
}

void apply_document(Config& cfg, const toml::value& root,
                    const std::function<void(const KeyError&)>& on_error,
                    std::map<std::string, unsigned>* lines) {
  const auto apply = [&](const Key& key, const toml::value& v, const std::string& full) {
    if (lines) (*lines)[full] = line_of(v);
    try {
      key.set(cfg, v, full);
    } catch (const ConfigError& e) {
      on_error({full, line_of(v), e.what()});
    }
  };
  const Section& top = *find_section("");
  const toml::table& table = root.as_table();
  for (const auto& name : sorted_keys(table)) {
    const toml::value& v = table.at(name);
    if (const Key* key = find_key(top, name)) {
      apply(*key, v, name);
      continue;
    }
    if (lines) (*lines)[name] = line_of(v);
    const Section* section = name.empty() ? nullptr : find_section(name);
    if (!section) {
      on_error({name, line_of(v),
                v.is_table() ? "unknown section '[" + name + "]'" : "unknown key '" + name + "'"});
      continue;
    }
    if (!v.is_table()) {
      on_error({name, line_of(v),
                name + ": expected a table ([" + name + "]), got " + describe(v)});
      continue;
    }
    for (const auto& sub : sorted_keys(v.as_table())) {
      const toml::value& sv = v.as_table().at(sub);
      const std::string full = name + "." + sub;
      if (const Key* key = find_key(*section, sub)) {
        apply(*key, sv, full);
      } else {
        if (lines) (*lines)[full] = line_of(sv);
        on_error({full, line_of(sv), "unknown key '" + full + "'"});
      }
    }
  }
}

std::vector<KeyError> apply_document_all(Config& cfg, const toml::value& root,
                                         std::map<std::string, unsigned>* lines) {
  std::vector<KeyError> errors;
  apply_document(cfg, root, [&](const KeyError& e) { errors.push_back(e); }, lines);
  std::stable_sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.line, a.key) < std::tie(b.line, b.key);
  });
  return errors;
}

std::string located(const std::string& path, unsigned line, const std::string& message) {
  return path + (line ? ":" + std::to_string(line) : std::string()) + ": " + message;
}

}  // namespace valtronics::config::detail
