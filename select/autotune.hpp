// What to time when tuning one GEMM point: the configs, in the order they are worth a measurement.
// The measuring itself needs a device (runtime/tuning_bench.hpp); choosing what to measure does
// not, so `fp8jit tune`, the autotuner and the tests share this one policy.
#pragma once

#include <cstdint>
#include <vector>

#include "cache/entry.hpp"
#include "compiler/kernel_spec.hpp"
#include "fp8jit/types.hpp"
#include "select/tuned_table.hpp"

namespace fp8jit::select {

// Up to `count` distinct configs for (m, n, k) on `device` of `target` (the model ranks them
// for `machine`, else for the arch's figures), each valid for the shape: the cost model's pick;
// the table's row for exactly this point (so that a re-tune never writes a slower row); the
// configs that won for the same weight at nearby M (TunedTable::neighbour_configs); then the
// model's ranking, at most two of each (family, token tile) group at first and the rest after, so
// that a few measurements try every kind of kernel the model thinks close rather than its first
// near-equal variants of one.
std::vector<compiler::GemmConfig> tuning_candidates(const TunedTable& table,
                                                    const compiler::Target& target,
                                                    const DeviceKey& device,
                                                    std::int64_t m, std::int64_t n, std::int64_t k,
                                                    OutDType out, bool bias, int count,
                                                    const compiler::MachineModel* machine = nullptr);

// ---- tuned rows kept in the kernel cache ----------------------------------------------------
// The autotuner keeps each row it measures as a record in the cache layers (cache/entry.hpp: kind
// "tuned_row"), under a key of everything that decides it: the target, the device (name,
// multiprocessors, bandwidth class), N, K, the bucket M, out dtype, bias, and the library build
// whose kernels were timed. So every process and layer of one cache shares it, a new build tunes
// afresh, and `fp8jit cache export-table` writes the rows as a tuned table.

// One tuned point, as the autotuner stores and finds it.
struct TunedPoint {
  compiler::Target target;
  DeviceKey device;
  std::int64_t n = 0, k = 0, m = 0;  // m: the bucket's M
  OutDType out = OutDType::bf16;
  bool bias = false;
};
// The key of `p`'s record: 32 hex characters, a cache key of its own kind.
std::string tuned_row_key(const TunedPoint& p);
// The tuned-table header line of rows with device columns, and one row of it.
const char* tuned_row_header();
std::string tuned_row_line(const TunedPoint& p, const compiler::GemmConfig& config, double us);
// The record of `p`'s measured row.
cache::Entry tuned_row_record(const TunedPoint& p, const compiler::GemmConfig& config, double us);
// The row a record holds, checked like any tuned-table row (TunedTable::parse) and against the
// point it was looked up for; InvalidArgument names what is wrong.
TunedRow parse_tuned_row_record(const cache::Entry& record, const TunedPoint& p);

}  // namespace fp8jit::select
