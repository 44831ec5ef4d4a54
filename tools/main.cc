// slimlm: one CLI for loading, converting, running, shrinking and measuring
// small language models. Flags follow llama.cpp's where they overlap.
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"slimlm — small language models on ordinary hardware"};
  app.set_version_flag("--version", "slimlm 0.1.0");
  app.require_subcommand(1);
  std::map<std::string, slimlm::cli::Action> actions;
  actions["inspect"] = slimlm::cli::add_inspect(app);
  actions["convert"] = slimlm::cli::add_convert(app);
  actions["run"] = slimlm::cli::add_run(app);
  actions["tokenize"] = slimlm::cli::add_tokenize(app);
  actions["synth"] = slimlm::cli::add_synth(app);
  actions["perplexity"] = slimlm::cli::add_perplexity(app);
  actions["bench"] = slimlm::cli::add_bench(app);
  actions["quantize"] = slimlm::cli::add_quantize(app);
  actions["needle"] = slimlm::cli::add_needle(app);
  actions["mc"] = slimlm::cli::add_mc(app);
  actions["compare"] = slimlm::cli::add_compare(app);
  actions["imatrix"] = slimlm::cli::add_imatrix(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto* sub : app.get_subcommands()) return actions.at(sub->get_name())();
  return 1;
}
