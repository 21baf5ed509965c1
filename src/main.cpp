// valtronics: one binary, subcommands. Maps start-up errors to exit code 2 with one clear line.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <map>

#include "cli/commands.hpp"
#include "config/config.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Valtronics real-time IoT server"};
  app.require_subcommand(1);
  app.set_version_flag("--version", valtronics::cli::version_line(), "Print the version and exit");
  std::map<CLI::App*, valtronics::cli::Runner> runners;
  auto add = [&](valtronics::cli::Runner (*adder)(CLI::App&)) {
    auto before = app.get_subcommands([](CLI::App*) { return true; }).size();
    auto runner = adder(app);
    auto subs = app.get_subcommands([](CLI::App*) { return true; });
    if (subs.size() > before) runners[subs.back()] = std::move(runner);
  };
  add(valtronics::cli::add_serve);
  add(valtronics::cli::add_token);
  add(valtronics::cli::add_bench);
  add(valtronics::cli::add_listen);
  add(valtronics::cli::add_simulate);
  add(valtronics::cli::add_config);
  add(valtronics::cli::add_version);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    for (auto* sub : app.get_subcommands())
      if (auto it = runners.find(sub); it != runners.end()) return it->second();
  } catch (const valtronics::config::ConfigError& e) {
    std::fprintf(stderr, "valtronics: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "valtronics: %s\n", e.what());
    return 2;
  }
  return 0;
}
