// The one table of every configuration key: how it is read from TOML, how its value is written
// back, what it does, whether it is a secret and whether a running server applies a change of it
// on SIGHUP. Loading (load_file), `config check`, `config init` (the example file), `config
// show`, render() and restart_needed() all walk this table, so a key added here is everywhere
// and a key missing here is an "unknown key" error, never silently ignored.
#pragma once

#include <string>
#include <string_view>
#include <toml.hpp>
#include <vector>

#include "config/config.hpp"

namespace valtronics::config {

enum class Secret {
  none,
  whole,         // the value is a secret: shown as "***"
  url_password,  // a URL whose USER:PASSWORD@ part is (db, mqtt.url)
  url_userinfo,  // a URL whose USER:PASSWORD@ or TOKEN@ part is (cluster.nats_url)
};

struct Key {
  const char* name;
  // What the key does (and why its default), one sentence or a few; `config init` writes it
  // above the key, wrapped.
  const char* doc;
  // Reads the value into the config; throws ConfigError naming `full_name`.
  void (*set)(Config& cfg, const toml::value& value, const std::string& full_name);
  // The key's value as TOML text that `set` reads back to the same value.
  std::string (*get)(const Config& cfg);
  Secret secret = Secret::none;
  // A running server applies a change on SIGHUP (restart_needed() leaves it out).
  bool live = false;
  // An older spelling of another key: read, never written (auth.algorithm).
  bool alias = false;
};

struct Section {
  const char* name;  // "" is the top level
  const char* doc;   // written above [name] by `config init`
  bool live;         // every key of the section is live
  std::vector<Key> keys;
};

// Every section in the order `config init` writes them, the top level first.
const std::vector<Section>& table();

const Section* find_section(std::string_view name);
const Key* find_key(const Section& section, std::string_view name);
std::string full_name(const Section& section, const Key& key);  // "limits.max_connections"
bool is_live(const Section& section, const Key& key);
// `key`'s value in `cfg` as TOML text; secrets masked when `mask` (an empty secret stays "", so
// that an unset secret reads as unset).
std::string value_text(const Key& key, const Config& cfg, bool mask);

}  // namespace valtronics::config
