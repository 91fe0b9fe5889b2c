// The subcommands of the fp8jit command; main.cpp parses, these run. Each returns the process
// exit status: 0 success, 1 a build, check or verification failed (or something asked for is not
// there), 2 bad input (main.cpp also maps InvalidArgument to 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fp8jit/options.hpp"
#include "tools/models.hpp"

namespace fp8jit::tools {

struct RunArgs {
  Workload work{"llama3-8b", "", {1, 16, 64, 256, 1024, 4096}};
  std::vector<std::string> targets = {"sm_90a", "gfx942"};
  bool cross = false;  // cross-compile even when a GPU is present
  bool bias = true;
  int check_rows = 8;
  int iters = 20;
};

struct WarmupArgs {
  std::vector<std::string> models;       // --model (several allowed)
  std::vector<std::string> shape_files;  // --shapes
  std::vector<std::string> tables;       // --tables; empty: Options::tuned_tables
  std::vector<std::string> ms;           // --m, as typed (parsed by cmd_warmup, errors name them)
  std::string m_range;                   // --m-range "lo:hi"
  std::vector<std::string> targets;      // --target; empty: the local GPU
  int cu_num = 0;
  std::string bias = "both";             // both | on | off
  std::vector<std::string> out_dtypes = {"bf16"};
  bool no_preshuffle = false;
  bool autotune = false;  // measure on this machine's GPU (runtime/autotuner.hpp)
  int jobs = 0;  // 0: one per hardware thread
  bool dry_run = false;
  bool json = false;
  std::string progress = "auto";  // auto | bar | lines | none
};

struct CacheArgs {
  std::string action;  // ls, show, verify, prune, clear, stats, export, export-table, import
  std::string unknown_action;  // a word after `cache` that names no command
  bool json = false;
  std::optional<std::string> target;  // ls, clear, export: only this target
  std::string key;                    // show: a key or a unique prefix of one
  bool source = false, disasm = false;
  std::optional<std::string> max_bytes;  // prune: budget ("2G"); unset: the configured one
  std::string file;       // export / import archive
  bool remote = false;    // ls, stats, verify, prune, clear, export, import: the remote layer
};

int cmd_info(const Options& options);
int cmd_run(const Options& options, const RunArgs& args);
int cmd_warmup(const Options& options, const WarmupArgs& args);
int cmd_cache(const Options& options, const CacheArgs& args);
// `cache ... --remote` (cmd_cache_remote.cpp).
int cmd_cache_remote(const Options& options, const CacheArgs& args);

}  // namespace fp8jit::tools
