// Subcommands of the slimlm CLI. Each registers its options on the app and
// returns the action to run when it is selected.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace slimlm::cli {

using Action = std::function<int()>;

Action add_inspect(CLI::App& app);
Action add_convert(CLI::App& app);
Action add_run(CLI::App& app);
Action add_tokenize(CLI::App& app);
Action add_synth(CLI::App& app);
Action add_perplexity(CLI::App& app);
Action add_bench(CLI::App& app);
Action add_quantize(CLI::App& app);
Action add_needle(CLI::App& app);
Action add_mc(CLI::App& app);
Action add_compare(CLI::App& app);
Action add_imatrix(CLI::App& app);

}  // namespace slimlm::cli
