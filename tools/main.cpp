// The fp8jit command: parsing and printing only; the work is in the library.
// Exit status: 0 success; 1 a build, check or verification failed; 2 bad input (a usage error
// from the parser, or InvalidArgument from the library, whose message names the value).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <memory>

#include "cache/redis.hpp"
#include "fp8jit/fp8jit.hpp"
#include "tools/cmd_bench.hpp"
#include "tools/cmd_model.hpp"
#include "tools/cmd_tune.hpp"
#include "tools/cmd_explain.hpp"
#include "tools/commands.hpp"

namespace {

using namespace fp8jit::tools;

constexpr int kUsageError = 2;

// What --help says of a command: its line in the parent's list of commands, then, at the end of
// its own --help, the examples (lines of "  fp8jit ...") and any notes.
struct CommandText {
  const char* name;
  const char* help;
  const char* examples;
};

CLI::App* add_command(CLI::App& parent, const CommandText& text,
                      const std::string& more_notes = "") {
  auto* command = parent.add_subcommand(text.name, text.help);
  command->footer(std::string("Examples:\n") + text.examples + more_notes);
  return command;
}

// --model, --shapes and --m of a command that works on one Workload.
void add_workload_options(CLI::App* command, Workload& w, const char* m_help) {
  command->add_option("--model", w.model, "Model preset: llama3-8b, llama3-70b or all")
      ->capture_default_str();
  command->add_option("--shapes", w.shape_file,
                      "File of 'N,K' lines (or bench/shapes.csv) instead of --model");
  command->add_option("--m", w.ms, m_help)->delimiter(',')->capture_default_str();
}

// --reps and --min-calls of a command that times GEMMs with the bench protocol.
void add_timing_options(CLI::App* command, int& reps, const char* reps_help, int& min_calls) {
  command->add_option("--reps", reps, reps_help)->capture_default_str()->check(CLI::Range(1, 1000));
  command->add_option("--min-calls", min_calls,
                      "Back-to-back calls per timed region (whole rounds over the weight copies; "
                      "1: one round)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
}

constexpr CommandText kInfo{
    "info",
    "Show the version and build id, the GPU, the toolchains found (or why not), the cache "
    "directory and the environment variables",
    R"(  fp8jit info
  FP8JIT_CACHE_DIR=/tmp/c fp8jit info)"};

constexpr CommandText kRun{
    "run",
    "The main job. With a GPU: compile, run and check the GEMMs of a model's weight shapes and "
    "print their times. Without one: cross-compile them into the cache and list what was built",
    R"(  fp8jit run
  fp8jit run --model all --m 1,16
  fp8jit run --cross --target gfx942,gfx950
  fp8jit run --target emu-gfx942 --shapes shapes.txt --m 1,37   # on the CPU)"};

void add_run(CLI::App* run, RunArgs& a) {
  add_workload_options(run, a.work, "Token counts to run (GPU)");
  run->add_option("--target", a.targets,
                  "Targets to cross-compile for (no GPU, or --cross); emulation targets "
                  "(emu-gfx942, emu-gfx950, emu-sm89) run on the CPU instead, checked as on a GPU")
      ->delimiter(',')
      ->capture_default_str();
  run->add_flag("--cross", a.cross, "Cross-compile even when a GPU is present");
  run->add_flag("!--no-bias", a.bias, "Run without bias (default: with)");
  run->add_option("--check-rows", a.check_rows,
                  "Rows of each result checked against the float64 reference")
      ->capture_default_str();
  run->add_option("--iters", a.iters, "Timed calls per GEMM")->capture_default_str();
}

constexpr CommandText kWarmup{
    "warmup",
    "Compile every kernel a deployment will need into the cache before it starts: for each "
    "weight shape, M value (or M bucket of an M range), output dtype and bias, the config the "
    "tuned tables choose (else the heuristic), deduplicated. For the local GPU, or for "
    "--target without one. A second run compiles nothing",
    R"(  fp8jit warmup --model llama3-70b --m-range 1:8192 --target sm_90a,gfx942 -j2
  fp8jit warmup --shapes weights.csv --m 1,16,64,256 --tables tuned/mi300x.csv
  fp8jit warmup --model llama3-8b --dry-run          # what would be built, and why
Exit status: 0 all built or cached, 1 a build failed, 2 bad input.)"};

void add_warmup(CLI::App* w, WarmupArgs& a) {
  w->add_option("--model", a.models, "Model preset(s): llama3-8b, llama3-70b, all")
      ->delimiter(',');
  w->add_option("--shapes", a.shape_files,
                "File(s) of 'N,K' lines ('#' comments; bench/shapes.csv works too)")
      ->delimiter(',');
  w->add_option("--tables", a.tables,
                "Tuned-table CSV files choosing the configs, merged in order (default: "
                "FP8JIT_TUNED_TABLES)")
      ->delimiter(',');
  w->add_option("--m", a.ms, "Token counts, each resolved to its config (e.g. 1,16,64)")
      ->delimiter(',');
  w->add_option("--m-range", a.m_range,
                "lo:hi — every M bucket that the range touches (e.g. 1:8192). Neither --m nor "
                "--m-range: every M bucket");
  w->add_option("--target", a.targets,
                "Targets to build for, without a GPU (sm_90a, sm_89, gfx942, gfx950, gfx90a, "
                "gfx942:sramecc+:xnack-). Default: the local GPU")
      ->delimiter(',');
  w->add_option("--cu-num", a.cu_num,
                "Multiprocessor/CU count matched against tuned-table rows when cross-compiling "
                "(0: any row)")
      ->capture_default_str();
  w->add_option("--bias", a.bias, "Kernels with bias, without, or both: on|off|both")
      ->capture_default_str();
  w->add_option("--out", a.out_dtypes, "Output dtypes: bf16, fp16")
      ->delimiter(',')
      ->capture_default_str();
  w->add_flag("--no-preshuffle", a.no_preshuffle, "Skip the weight-packing kernel of each target");
  w->add_flag("--autotune", a.autotune,
              "On this machine's GPU: measure every point (weight, M bucket, out, bias) that no "
              "tuned row of this device covers and keep its winner in the cache "
              "(FP8JIT_AUTOTUNE; docs/tuned-table.md)");
  w->add_option("-j,--jobs", a.jobs, "Kernels built at once (0: one per CPU)")
      ->capture_default_str();
  w->add_flag("--dry-run", a.dry_run, "List the kernels (and the rule that chose each config); "
                                      "build nothing");
  w->add_flag("--json", a.json, "Print the result (or the plan) as JSON on stdout");
  w->add_option("--progress", a.progress,
                "auto (a bar on a terminal, lines otherwise), bar, lines or none")
      ->capture_default_str();
}

constexpr CommandText kCache{
    "cache",
    "Inspect and maintain the kernel cache (FP8JIT_CACHE_DIR and the read-only layers of "
    "FP8JIT_CACHE_READONLY_DIRS)",
    R"(  fp8jit cache ls --target gfx942
  fp8jit cache show 3f9a1c --disasm
  fp8jit cache verify --json
  fp8jit cache prune --max-bytes 2G
  fp8jit cache export kernels.tar && fp8jit cache import kernels.tar
Exit status: 0 success, 1 damage found or an operation failed, 2 bad input.)"};

void add_cache(CLI::App* cache, CacheArgs& a) {
  // NOTE: not require_subcommand(1): its error does not name a mistyped command; the hidden
  // positional catches the word instead, and run_cache() reports it.
  cache->require_subcommand(0, 1);
  cache->add_option("command", a.unknown_action)->group("");
  auto sub = [&](const char* name, const char* help, const char* examples) {
    auto* s = add_command(*cache, {name, help, examples},
                          "\nCache: FP8JIT_CACHE_DIR or --cache-dir, then "
                          "FP8JIT_CACHE_READONLY_DIRS (docs/env.md).");
    s->add_flag("--json", a.json, "Machine-readable output (stable keys) on stdout");
    s->final_callback([&a, name] { a.action = name; });
    return s;
  };
  auto remote = [&](CLI::App* s) {
    s->add_flag("--remote", a.remote,
                "The remote layer (FP8JIT_CACHE_REMOTE or --cache-remote) instead of the disk");
  };
  auto* ls = sub("ls", "List the entries of every layer: key, target, size, last use, kernel",
                 R"(  fp8jit cache ls
  fp8jit cache ls --target gfx942 --json)");
  ls->add_option("--target", a.target, "Only entries for this target (e.g. gfx942)");
  remote(ls);
  auto* show = sub("show", "Show one entry: spec, metadata, resources, binary; optionally its "
                           "source and disassembly",
                   R"(  fp8jit cache show 3f9a1c
  fp8jit cache show 3f9a1c --source --disasm)");
  show->add_option("KEY", a.key, "The entry's key, or a unique prefix of it (6+ characters)")
      ->required();
  show->add_flag("--source", a.source, "Print the stored kernel source");
  show->add_flag("--disasm", a.disasm,
                 "Disassemble the binary (llvm-objdump for AMD; nvdisasm or cuobjdump for "
                 "NVIDIA)");
  remote(sub("verify", "Read every file of every layer and name each damaged one (exit status 1 "
                       "when any is)",
             R"(  fp8jit cache verify
  fp8jit cache verify --json | jq '.damaged[].path'
  FP8JIT_CACHE_REMOTE=redis://cache:6379 fp8jit cache verify --remote)"));
  auto* prune = sub("prune", "Evict least-recently-used entries down to the size budget; remove "
                             "stale temp files and old quarantined entries",
                   R"(  fp8jit cache prune
  fp8jit cache prune --max-bytes 2G)");
  prune->add_option("--max-bytes", a.max_bytes,
                    "Budget for this prune (K, M, G suffixes); default FP8JIT_CACHE_MAX_BYTES "
                    "(with --remote: none, only damaged values are removed)");
  remote(prune);
  auto* clear = sub("clear", "Remove every entry of the writable layer (or of one target)",
                    R"(  fp8jit cache clear
  fp8jit cache clear --target gfx950)");
  clear->add_option("--target", a.target, "Only entries for this target");
  remote(clear);
  remote(sub("stats", "Entries and bytes per layer and per target, temp and quarantined files",
             "  fp8jit cache stats --json\n  fp8jit --cache-remote redis://cache:6379 cache stats "
             "--remote"));
  auto* exp = sub("export", "Write the verified entries of every layer into one archive (tar), "
                            "for shipping",
                  "  fp8jit cache export kernels.tar --target gfx942");
  exp->add_option("FILE", a.file, "Archive to write")->required();
  exp->add_option("--target", a.target, "Only entries for this target");
  remote(exp);
  auto* table = sub("export-table",
                    "Write the tuned rows the autotuner kept in the cache as a tuned table (CSV)",
                    R"(  fp8jit cache export-table h200.csv
  FP8JIT_TUNED_TABLES=h200.csv fp8jit explain 24 4096 4096)");
  table->add_option("FILE", a.file, "Tuned table to write")->required();
  table->add_option("--target", a.target, "Only rows for this target");
  auto* imp = sub("import", "Verify and publish the entries of an archive into the writable layer",
                  "  fp8jit --cache-dir /opt/fp8jit-cache cache import kernels.tar");
  imp->add_option("FILE", a.file, "Archive to read")->required()->check(CLI::ExistingFile);
  remote(imp);
}

constexpr CommandText kExplain{
    "explain",
    "Show which tuned-table row or rule chooses the config of one GEMM, and why (the cost "
    "model's view, runner-up configs). No GPU needed with --target",
    R"(  fp8jit explain 37 8192 8192 --target gfx942
  fp8jit explain 1 57344 8192 --target sm_90a --tables tuned/h100.csv --bias)"};

void add_explain(CLI::App* e, ExplainArgs& a) {
  e->add_option("M", a.m, "Tokens")->required();
  e->add_option("N", a.n, "Weight rows (output columns)")->required();
  e->add_option("K", a.k, "Reduction length")->required();
  e->add_option("--target", a.target, "Target (sm_90a, gfx942, ...); default: the local GPU");
  e->add_option("--cu", a.cu, "Multiprocessor/CU count (default: the local GPU's, or 0 = any "
                              "with --target)");
  e->add_option("--out", a.out, "Output dtype: bf16 or fp16")->capture_default_str();
  e->add_flag("--bias", a.bias, "The GEMM has a bias");
  e->add_option("--tables", a.tables, "Tuned-table CSV files (default: FP8JIT_TUNED_TABLES)")
      ->delimiter(',');
  e->add_option("--candidates", a.candidates, "Runner-up configs of the cost model to print")
      ->capture_default_str();
}

constexpr CommandText kBench{
    "bench",
    "Benchmark fp8jit against cuBLASLt (outer-vector scales) in one process on the GPU",
    R"(  fp8jit bench
  fp8jit bench --model llama3-70b --m 1,64,4096 --csv bench/results/h100.csv)"};

void add_bench(CLI::App* b, BenchArgs& a) {
  add_workload_options(b, a.work, "Token counts");
  add_timing_options(b, a.reps, "Timed regions per GEMM (median kept)", a.min_calls);
  b->add_option("--csv", a.csv, "Also write the rows to this CSV file");
  b->add_flag("--heuristic", a.heuristic,
              "Also time, in the same process, the config the cost model alone would choose "
              "(no tuned row, no autotuning) for each point");
  b->add_flag("!--no-bias", a.bias, "Benchmark without bias (default: with)");
}

constexpr CommandText kTune{
    "tune",
    "Time candidate configs on the GPU and write the fastest that passes the accuracy check to "
    "a tuned table",
    R"(  fp8jit tune --out tuned/h100.csv
  FP8JIT_TUNED_TABLES=tuned/h100.csv fp8jit bench --m 1,16)"};

void add_tune(CLI::App* t, TuneArgs& a) {
  add_workload_options(t, a.work, "Token counts to tune");
  t->add_option("--candidates", a.candidates, "Configs timed per point: the heuristic's, the tuned table's current row, then each "
                "family's best-ranked in turn")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  add_timing_options(t, a.reps, "Timed regions per candidate (median kept)", a.min_calls);
  t->add_option("-j,--jobs", a.jobs, "Kernels built at once (0: one per CPU)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  t->add_flag("!--no-bias", a.bias, "Tune without bias (default: with)");
  t->add_option("--out", a.out, "The tuned table to write (CSV)")->required();
  t->add_option("--dump", a.dump,
                "Also write every candidate's outcome (time, error, or why it was not timed) "
                "to this CSV file");
}

constexpr CommandText kModel{
    "model",
    "Check the cost model against measured candidates (fp8jit tune --dump) and fit its figures "
    "to them",
    R"(  fp8jit model bench/results/h200-tune-sweep/dump-shapes.csv --check bench/results/h200-tune-sweep/dump-heldout.csv --fit --worst 10)"};

void add_model(CLI::App* m, ModelArgs& a) {
  m->add_option("dumps", a.dumps, "Dumps of fp8jit tune --dump the model is scored on (and fitted to)")
      ->required()
      ->check(CLI::ExistingFile);
  m->add_option("--check", a.check_dumps, "Held-out dumps: scored, never fitted to")
      ->delimiter(',')
      ->check(CLI::ExistingFile);
  m->add_option("--target", a.target, "Arch the dumps were measured on")->capture_default_str();
  m->add_option("--cu", a.cu, "Its multiprocessor count (0: the arch's usual)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  m->add_option("--dram-tbps", a.dram_tbps,
                "The device's DRAM rate in TB/s, as calibration measures it (its copy bandwidth); "
                "default: the arch's")
      ->check(CLI::Range(0.0, 1000.0));
  m->add_flag("--fit", a.fit, "Fit the model's figures to the dumps and print them");
  m->add_option("--iterations", a.iterations, "Steps of the fit")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  m->add_option("--worst", a.worst, "List the N points where the model chooses worst")
      ->check(CLI::Range(0, 100000));
}

// `fp8jit model` reads files only: no Options.
int run_model(const fp8jit::Options&, const ModelArgs& a) { return cmd_model(a); }

// `fp8jit cache`: a missing or unknown command (which the parser lets through, see add_cache) is a
// usage error, reported here; else the command runs.
int run_cache(const fp8jit::Options& options, const CacheArgs& a) {
  if (a.action.empty()) {
    std::fprintf(stderr, "fp8jit cache: %s\nRun with --help for more information.\n",
                 a.unknown_action.empty()
                     ? "a command is required: ls, show, verify, prune, clear, stats, export, export-table or "
                       "import"
                     : ("unknown command '" + a.unknown_action +
                        "': expected ls, show, verify, prune, clear, stats, export, export-table or import")
                           .c_str());
    return kUsageError;
  }
  return cmd_cache(options, a);
}

// A command of `fp8jit`: its parser, and what carries it out once the command line named it.
struct Command {
  CLI::App* parser;
  std::function<int(const fp8jit::Options&)> run;
};

// A command whose options `add` declares into an Args of its own, carried out by `run`.
template <class Args>
Command command(CLI::App& app, const CommandText& text, void (*add)(CLI::App*, Args&),
                int (*run)(const fp8jit::Options&, const Args&)) {
  auto args = std::make_shared<Args>();
  CLI::App* parser = add_command(app, text);
  add(parser, *args);
  return {parser, [args, run](const fp8jit::Options& options) { return run(options, *args); }};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fp8jit;
  CLI::App app{"fp8jit — JIT-compiled FP8 GEMM kernels (per-token x per-channel scales), cached "
               "on disk"};
  app.require_subcommand(1);
  app.set_version_flag("--version", FP8JIT_VERSION);
  app.fallthrough();
  std::string cache_dir;
  app.add_option("--cache-dir", cache_dir, "Cache root for this command (overrides "
                                           "FP8JIT_CACHE_DIR)");
  std::string cache_remote;
  app.add_option("--cache-remote", cache_remote,
                 "Remote cache layer for this command, redis://[user:password@]host[:port][/db] "
                 "(overrides FP8JIT_CACHE_REMOTE)");
  app.footer("Examples:\n"
             "  fp8jit info\n"
             "  fp8jit warmup --model llama3-70b --m-range 1:8192 --target sm_90a,gfx942 -j2\n"
             "  fp8jit cache ls\n"
             "Run 'fp8jit <command> --help' for a command's options. Environment: docs/env.md.");

  // In the order of the help's list of commands.
  const Command commands[] = {
      {add_command(app, kInfo), tools::cmd_info},
      command(app, kRun, add_run, tools::cmd_run),
      command(app, kWarmup, add_warmup, tools::cmd_warmup),
      command(app, kCache, add_cache, run_cache),
      command(app, kExplain, add_explain, tools::cmd_explain),
      command(app, kBench, add_bench, tools::cmd_bench),
      command(app, kTune, add_tune, tools::cmd_tune),
      command(app, kModel, add_model, run_model),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help, the version, or the error with a hint
    return rc == 0 ? 0 : kUsageError;
  }
  try {
    Options options = Options::from_env();
    if (!cache_dir.empty()) options.cache_dir = cache_dir;
    if (!cache_remote.empty()) {
      cache::parse_redis_url(cache_remote, "--cache-remote");  // names the option when bad
      options.cache_remote = cache_remote;
    }
    for (const Command& c : commands)
      if (*c.parser) return c.run(options);
  } catch (const InvalidArgument& e) {
    std::fprintf(stderr, "fp8jit: error: %s\n", e.what());
    return kUsageError;
  } catch (const Error& e) {
    std::fprintf(stderr, "fp8jit: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // a file-system or allocation failure below the library
    std::fprintf(stderr, "fp8jit: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
