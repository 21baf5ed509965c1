// Subcommands of the `valtronics` binary. Each registers its flags on a CLI11 subcommand and
// returns the process exit code when run; start-up errors are exceptions mapped to exit 2.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace valtronics::cli {

using Runner = std::function<int()>;

// Each add_* registers a subcommand on `app` and returns the function that runs it once parsed.
Runner add_serve(CLI::App& app);
Runner add_token(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_listen(CLI::App& app);    // listen.cpp: the C++ client SDK printing updates
Runner add_simulate(CLI::App& app);  // simulate.cpp: simulated devices posting to ingest

}  // namespace valtronics::cli
