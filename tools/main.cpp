// The fp8jit command: parsing and printing only; the work is in the library.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "fp8jit/fp8jit.hpp"
#include "tools/commands.hpp"

int main(int argc, char** argv) {
  using namespace fp8jit;
  CLI::App app{"fp8jit — JIT-compiled FP8 GEMM kernels (per-token x per-channel scales), cached "
               "on disk"};
  app.require_subcommand(1);
  app.set_version_flag("--version", FP8JIT_VERSION);

  auto* info = app.add_subcommand("info", "Show the GPU, the toolchains found (or why not), the "
                                          "cache directory and the environment variables");

  tools::RunArgs run_args;
  auto* run = app.add_subcommand(
      "run", "The main job. With a GPU: compile, run and check the GEMMs of a model's weight "
             "shapes and print their times. Without one: cross-compile them into the cache and "
             "list what was built");
  run->add_option("--model", run_args.model, "Model preset: llama3-8b, llama3-70b or all")
      ->capture_default_str();
  run->add_option("--shapes", run_args.shape_file,
                  "File of 'N,K' lines (or bench/shapes.csv) instead of --model");
  run->add_option("--m", run_args.ms, "Token counts to run (GPU)")->delimiter(',')->capture_default_str();
  run->add_option("--target", run_args.targets, "Targets to cross-compile for (no GPU, or --cross)")
      ->delimiter(',')
      ->capture_default_str();
  run->add_flag("--cross", run_args.cross, "Cross-compile even when a GPU is present");
  run->add_flag("!--no-bias", run_args.bias, "Run without bias (default: with)");
  run->add_option("--check-rows", run_args.check_rows,
                  "Rows of each result checked against the float64 reference")
      ->capture_default_str();
  run->add_option("--iters", run_args.iters, "Timed calls per GEMM")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    const Options options = Options::from_env();
    if (*info) return tools::cmd_info(options);
    if (*run) return tools::cmd_run(options, run_args);
  } catch (const Error& e) {
    std::fprintf(stderr, "fp8jit: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
