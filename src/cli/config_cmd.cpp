// `valtronics config init|check|show`: write a complete configuration file, check one (every
// error with its key and line, and the rules serve applies), or show the effective
// configuration with its secrets masked. All three walk the key table (config/table.hpp).
#include <cstdio>
#include <cstdlib>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "config/document.hpp"
#include "engine/message_bounds.hpp"

namespace valtronics::cli {

// No stored message (alert, replay item, status change) may be larger than a connection's
// budget: one that does not fit closes the connection with 4009, and a client resuming below
// it would be closed again on every attempt (issue 10, defect 3). Its largest size follows from
// the bounds of its parts (engine/message_bounds), so a smaller budget is a configuration error.
std::string outbound_budget_problem(const config::Config& cfg) {
  const std::size_t largest = engine::largest_stored_message_bytes();
  if (cfg.limits.max_outbound_bytes >= largest) return "";
  return "limits.max_outbound_bytes: must be at least " + std::to_string(largest) +
         " bytes, the largest single stored message (an alert or device status frame); got " +
         std::to_string(cfg.limits.max_outbound_bytes);
}

namespace {

// What serve does after the file and before validating: the environment's secret wins. (Flags
// are serve's own; a file meant to run with --jwt-secret or --demo says so in the check's error.)
void apply_environment(config::Config& cfg) {
  if (const char* env = std::getenv("VALTRONICS_JWT_SECRET"); env && *env)
    cfg.auth.jwt_secret = env;
}

int run_check(const std::string& path) {
  config::FileCheck check = config::check_file(path);
  if (check.parsed) {
    apply_environment(check.config);
    for (const auto& e : config::validation_errors(check.config)) check.add_rule_error(e);
    if (auto e = outbound_budget_problem(check.config); !e.empty()) check.add_rule_error(e);
  }
  if (check.errors.empty()) {
    std::printf("%s: OK\n", path.c_str());
    return 0;
  }
  for (const auto& e : check.errors) std::fprintf(stderr, "%s\n", e.c_str());
  std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), check.errors.size(),
               check.errors.size() == 1 ? "" : "s");
  return 2;
}

}  // namespace

Runner add_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Write, check or show a configuration file");
  cmd->require_subcommand(1);
  cmd->footer(
      "Examples:\n"
      "  valtronics config init > /etc/valtronics.toml\n"
      "  valtronics config check /etc/valtronics.toml\n"
      "  valtronics config show --config /etc/valtronics.toml");

  auto* init = cmd->add_subcommand(
      "init", "Print a complete commented configuration file: every key at its default");
  init->footer(
      "Examples:\n"
      "  valtronics config init > valtronics.toml\n"
      "  valtronics config init | diff - /etc/valtronics.toml   # what a file changed");

  auto file = std::make_shared<std::string>();
  auto* check = cmd->add_subcommand(
      "check", "Check a configuration file as serve would: every error with its key and line");
  check->add_option("file", *file, "TOML configuration file")->required();
  check->footer(
      "Exit code 0 and 'FILE: OK', or 2 and every error on stderr as FILE:LINE: KEY: problem.\n"
      "VALTRONICS_JWT_SECRET counts, as for serve.\n\n"
      "Examples:\n"
      "  valtronics config check /etc/valtronics.toml\n"
      "  VALTRONICS_JWT_SECRET=$(cat /run/secrets/jwt) valtronics config check valtronics.toml");

  auto* show = cmd->add_subcommand(
      "show", "Print the effective configuration (a file over the defaults), secrets masked");
  show->add_option("--config", *file, "TOML configuration file (default: none, the defaults)");
  show->footer(
      "Examples:\n"
      "  valtronics config show\n"
      "  valtronics config show --config /etc/valtronics.toml\n"
      "  valtronics config show --config a.toml > a.eff; valtronics config show --config "
      "b.toml | diff a.eff -");

  return [init, check, show, file] {
    if (init->parsed()) {
      std::fputs(config::init_file().c_str(), stdout);
      return 0;
    }
    if (check->parsed()) return run_check(*file);
    if (show->parsed()) {
      config::Config cfg;
      if (!file->empty()) cfg = config::load_file(*file);
      apply_environment(cfg);
      std::fputs(config::render(cfg, true).c_str(), stdout);
      return 0;
    }
    return 2;
  };
}

}  // namespace valtronics::cli
