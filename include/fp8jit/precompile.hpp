// fp8jit — building kernels ahead of time, with or without a GPU (cross-compilation): what the
// warmup command and the no-GPU main job use.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fp8jit/options.hpp"
#include "fp8jit/types.hpp"

namespace fp8jit {

struct PrecompileRequest {
  std::vector<std::string> targets;                         // "sm_90a", "gfx942", ...
  std::vector<std::pair<std::int64_t, std::int64_t>> shapes;  // (N, K) of each weight
  std::vector<OutDType> out_dtypes = {OutDType::bf16};
  std::vector<bool> bias = {false, true};
  bool preshuffle = true;  // also the weight-packing kernel of each target
};

struct PrecompiledKernel {
  std::string target;
  std::string kernel_name;
  std::string key;
  std::string spec;
  bool cached = false;     // found in the disk cache, nothing compiled
  double compile_ms = 0;   // this process's compile time (0 when cached)
  int registers = -1;
  int spills = -1;
  std::string error;       // non-empty when the build failed (the others still run)
};

// Builds every kernel the request implies (each M bucket's config for every shape, dtype, bias
// and target, deduplicated) into options.cache_dir. Bad targets or shapes throw InvalidArgument
// before anything is built; a failing compile is reported in its PrecompiledKernel.
std::vector<PrecompiledKernel> precompile(
    const Options& options, const PrecompileRequest& request,
    const std::function<void(const PrecompiledKernel&, std::size_t done, std::size_t total)>&
        progress = {});

}  // namespace fp8jit
