// The configuration written back as TOML, from the key table: render() (the effective
// configuration, for `config show` and the start-up debug log), init_file() (`config init`, the
// example file) and restart_needed() (which changes a SIGHUP cannot apply).

#include "config/config.hpp"
#include "config/document.hpp"
#include "config/table.hpp"

namespace valtronics::config {

namespace {

constexpr std::size_t kWidth = 98;  // comment lines end by column 98, as the sources do

// `text` as "# " lines of at most kWidth columns, broken between words.
void comment(std::string& out, const std::string& text) {
  std::string line;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find(' ', pos);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(pos, end - pos);
    if (!line.empty() && 2 + line.size() + 1 + word.size() > kWidth) {
      out += "# " + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    pos = end + 1;
  }
  if (!line.empty()) out += "# " + line + "\n";
}

// A live section says so once, above its header, rather than under each of its keys.
std::string doc_of(const Section& section) {
  std::string doc = section.doc;
  if (section.live) doc += " Every key of this section applies on SIGHUP.";
  return doc;
}

std::string doc_of(const Section& section, const Key& key) {
  std::string doc = key.doc;
  if (key.live && !section.live) doc += " Applies on SIGHUP.";
  return doc;
}

void write(std::string& out, const Config& cfg, bool mask, bool comments) {
  for (const auto& section : table()) {
    if (*section.name) {
      out += "\n";
      if (comments) comment(out, doc_of(section));
      out += std::string("[") + section.name + "]\n";
    }
    for (const auto& key : section.keys) {
      if (key.alias) continue;  // its value is written under the key it stands for
      if (comments) comment(out, doc_of(section, key));
      out += std::string(key.name) + " = " + value_text(key, cfg, mask) + "\n";
    }
  }
}

}  // namespace

std::string render(const Config& cfg, bool mask_secrets) {
  std::string out;
  write(out, cfg, mask_secrets, false);
  return out;
}

std::string init_file() {
  std::string out;
  comment(out,
          "Valtronics server configuration: every key at its default, with what it does. Written "
          "by `valtronics config init`; check a file with `valtronics config check FILE`, see "
          "what a server would run with `valtronics config show --config FILE`.");
  out += "#\n";
  comment(out,
          "Load it with `valtronics serve --config FILE`. Flags override this file, and the "
          "environment variable VALTRONICS_JWT_SECRET overrides auth.jwt_secret: set one of them "
          "(or jwt_secret below) before serving. Durations are strings with a unit: \"500ms\", "
          "\"10s\", \"5m\", \"1h\", \"7d\". An unknown key, a wrong type or a bad value stops "
          "start-up with one line naming the key (exit code 2). Keys and sections that say "
          "they apply on SIGHUP change in a running server on `kill -HUP`; the others need a "
          "restart.");
  out += "\n";
  write(out, Config{}, false, true);
  return out;
}

std::vector<std::string> restart_needed(const Config& running, const Config& loaded) {
  std::vector<std::string> out;
  for (const auto& section : table())
    for (const auto& key : section.keys)
      if (!key.alias && !is_live(section, key) &&
          value_text(key, running, false) != value_text(key, loaded, false))
        out.push_back(full_name(section, key));
  return out;
}

}  // namespace valtronics::config
