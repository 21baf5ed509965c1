// Subcommands of the `valtronics` binary. Each registers its flags on a CLI11 subcommand and
// returns the process exit code when run; start-up errors are exceptions mapped to exit 2.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace valtronics::config {
struct Config;
}

namespace valtronics::cli {

using Runner = std::function<int()>;

// Each add_* registers a subcommand on `app` and returns the function that runs it once parsed.
Runner add_serve(CLI::App& app);
Runner add_token(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_listen(CLI::App& app);    // listen.cpp: the C++ client SDK printing updates
Runner add_simulate(CLI::App& app);  // simulate.cpp: simulated devices posting to ingest
Runner add_config(CLI::App& app);    // config_cmd.cpp: config init, check, show
Runner add_version(CLI::App& app);   // version.cpp: version, commit, library versions

// "valtronics 0.1.0 (commit abc1234)": the first line of `version`, also `--version`.
std::string version_line();

// The rule of serve's beyond validate() that needs the engine's bounds: "" when `cfg` keeps it,
// else one line naming limits.max_outbound_bytes. Serve and `config check` both apply it.
std::string outbound_budget_problem(const config::Config& cfg);

}  // namespace valtronics::cli
