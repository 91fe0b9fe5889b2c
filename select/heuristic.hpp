// Config selection without a tuned row: the M buckets (shared by tuned tables, plans and warmup)
// and a cost model that picks a tile config for any shape the kernels support. Separate from code
// generation: it names configs, and rendering and compiling them happen elsewhere. TunedTable
// (select/tuned_table.hpp) sits in front of it.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "compiler/arch_spec.hpp"
#include "compiler/kernel_spec.hpp"

namespace fp8jit::select {

// ---- M buckets -------------------------------------------------------------------------------
// One notion of "M bucket" for the whole library (docs/tuned-table.md):
//   - a bucket is a range of M served by one config; its upper bounds are the powers of two
//     1, 2, 4, 8 and from 8 on every power of two and the point halfway up to the next (12, 16,
//     24, 32, 48, ..., 8192, 12288); the last bucket is open (M > 12288);
//   - its M (m_bucket_m) is the bucket's upper bound, kLargestBucketM (16384) for the open one:
//     the M under which a tuned table stores the bucket's row, at which the heuristic and the
//     autotuner evaluate it, and for which a Plan holds one kernel.
// NOTE: power-of-two buckets alone cost up to 35% between two powers of two on an H200 (M = 192
// run with the config chosen for 256: bm128 tiles half empty);
// the halfway bounds keep every M within a few percent of its own best config. Below 8 a
// bucket's M runs the same memory-bound kernel at any M in it.
// NOTE: the buckets go on past 8192 for small weights: a 128 x 2048 weight at M = 12345 ran
// 12.5 us with the config tuned at 8192 and 9.1 us with its own on an H200, because a weight of
// N <= 256 fills the multiprocessors only with M that large. Above 16384 every weight's grid
// covers the GPU many times over, and the open bucket's config serves any M.
constexpr std::int64_t kUnboundedM = INT32_MAX;
constexpr std::int64_t kLargestBucketM = 16384;

// Upper bounds of the M buckets, ascending; the last one is kUnboundedM. Every M >= 1 falls in
// exactly one bucket.
const std::vector<std::int64_t>& m_buckets();
// Index into m_buckets() of the bucket that holds m (m < 1 counts as 1).
int m_bucket_index(std::int64_t m);
// The M that stands for m's bucket: its upper bound, at most kLargestBucketM (1 -> 1, 3 -> 4,
// 37 -> 48, 100 -> 128, 5000 -> 6144, 12345 -> 16384, 20000 -> 16384; m < 1 counts as 1).
std::int64_t m_bucket_m(std::int64_t m);

// ---- cost model ------------------------------------------------------------------------------

// What the cost model predicts for one config on one shape on one machine (the device's
// calibrated figures, else its arch's: compiler::MachineModel). Good for ranking configs and, on
// a calibrated device, within about 30% of the measured time (rms over the candidates `fp8jit
// tune` timed on an H200; `fp8jit model` scores it on any such measurements).
struct GemmEstimate {
  compiler::GemmConfig config;
  std::int64_t m = 0;            // the M modelled
  int multiprocessors = 0;       // SMs / CUs modelled
  int registers = 0;             // estimated registers (VGPRs) per thread
  std::int64_t blocks = 0;       // grid size
  int blocks_per_sm = 0;         // blocks resident on one multiprocessor at once
  std::int64_t waves = 0;        // rounds of resident blocks on the busiest multiprocessor
  double wave_efficiency = 0;    // work / (multiprocessors x rounds x resident): how full they are
  double tile_efficiency = 0;    // M N / (M and N padded to whole tiles): work not spent on tails
  double memory_parallelism = 0; // a multiprocessor's bytes in flight / what covers its latency
  double estimated_us = 0;
  // What sets the time: "memory" (DRAM bandwidth, or a multiprocessor's loads in flight), "load"
  // (L1: register tiles re-read the tokens), "compute" (matrix instructions) or "latency" (a
  // warp's chain of dependent loads).
  const char* bound = "memory";
  // rank_configs only, for the candidates it judged over the bucket (kBucketSlack): the worst,
  // over the M the bucket serves (bucket_sample_ms), of this config's estimated time against the
  // best candidate's at that M (1: nowhere slower); 0 where not judged.
  double bucket_regret = 0;

  // "64 blocks, 5 per multiprocessor, waves 1 (10% full), tile efficiency 100%, memory
  // parallelism 45%, memory-bound, ~92 registers, ~11.2 us"
  std::string summary() const;
};

// The model's prediction for `config` (which must be valid for the target's family) on `machine`.
// Every M, N, K within the limits of compiler/gemm_limits.hpp is modelled without integer
// overflow; callers check the limits first.
GemmEstimate estimate_gemm(const compiler::Target& target, const compiler::MachineModel& machine,
                           std::int64_t m, std::int64_t n, std::int64_t k,
                           const compiler::GemmConfig& config);
// The same on the arch's default figures with `multiprocessors` (<= 0: the arch's usual count:
// 132 for sm_90a, 304 for gfx942, ...; at most kMaxCuNum, select/tuned_table.hpp).
GemmEstimate estimate_gemm(const compiler::Target& target, int multiprocessors, std::int64_t m,
                           std::int64_t n, std::int64_t k, const compiler::GemmConfig& config);

// The M besides the bucket's own at which rank_configs judges a bucket's config: the smallest M
// the bucket serves and the one halfway up (empty for a bucket of one M). At the bottom of a
// bucket a tile sized for its top leaves multiprocessors idle: the model put a 1536 x 7168
// weight at M = 1280 at 41 us with the 256-token tile it picks for M = 1536, and at 28 us with a
// 128-token one.
std::vector<std::int64_t> bucket_sample_ms(std::int64_t m);

// How much slower than the best at the bucket's M a config may be estimated and still win the
// bucket by serving its lower M better (rank_configs).
constexpr double kBucketSlack = 0.03;

// Every candidate config the heuristic considers for m's bucket, best first (ties keep a fixed
// candidate order, so the ranking is deterministic). Never empty. First come the candidates
// within kBucketSlack of the best estimate at the bucket's M, ordered by their bucket_regret
// (the least first; ties by that estimate); then the rest by their estimate.
std::vector<GemmEstimate> rank_configs(const compiler::Target& target,
                                       const compiler::MachineModel& machine, std::int64_t m,
                                       std::int64_t n, std::int64_t k);
std::vector<GemmEstimate> rank_configs(const compiler::Target& target, int multiprocessors,
                                       std::int64_t m, std::int64_t n, std::int64_t k);

// The heuristic's config for m's bucket (rank_configs(...).front().config): valid
// (KernelSpec::validate accepts it) for any N % 16 == 0, K % 16 == 0 and M >= 1 on an arch with
// fp8 matrix instructions. Deterministic in (target arch, machine, m_bucket_m(m), n, k).
compiler::GemmConfig heuristic_config(const compiler::Target& target,
                                      const compiler::MachineModel& machine, std::int64_t m,
                                      std::int64_t n, std::int64_t k);
compiler::GemmConfig heuristic_config(const compiler::Target& target, int multiprocessors,
                                      std::int64_t m, std::int64_t n, std::int64_t k);

}  // namespace fp8jit::select
