// What a SIGHUP reload applies: the live keys of the table that changed (app/config_reload.cpp
// copies them into the running server).
#include "config/config.hpp"
#include "config/table.hpp"

namespace valtronics::config {

std::vector<std::string> live_changes(const Config& running, const Config& loaded) {
  std::vector<std::string> out;
  for (const auto& section : table())
    for (const auto& key : section.keys)
      if (!key.alias && is_live(section, key) &&
          value_text(key, running, false) != value_text(key, loaded, false))
        out.push_back(full_name(section, key));
  return out;
}

}  // namespace valtronics::config
