// The benchmark: fp8jit and cuBLASLt (outer-vector scales, bf16 out) in one process
// on the same operands; weights rotate among copies that together exceed 4x the L2 cache; each
// figure is the per-call median over repetitions of event-timed regions of back-to-back calls
// (rounds over the copies, at least SuiteArgs::min_calls calls).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "fp8jit/gemm.hpp"
#include "tools/models.hpp"

namespace fp8jit::bench {

struct SuiteArgs {
  std::vector<tools::WeightShape> shapes;
  std::vector<std::int64_t> ms = {1, 16, 64, 256, 1024, 4096, 8192};
  int reps = 20;        // timed regions per point (median reported)
  int min_calls = 8;    // calls per timed region (whole rounds over the weight copies)
  bool bias = true;
  int check_rows = 2;   // rows of each result checked against the float64 host reference
  double copy_tbps = 0; // the copy bandwidth of this run (measure_copy_bandwidth), 0 if unknown
  bool heuristic = false;  // also time the cost model's own config (SuiteRow::heuristic_*)
};

struct SuiteRow {
  std::string shape;
  std::int64_t m = 0, n = 0, k = 0;
  int copies = 0;               // weight copies rotated through
  double fp8jit_us = 0, cublas_us = 0;
  double fp8jit_err = 0, cublas_err = 0;  // ||out - ref|| / ||ref|| on the checked rows
  double copy_tbps = 0;         // SuiteArgs::copy_tbps
  std::string config;           // the config Context::gemm chose, and by which rule
  std::string source;           // "exact_row", "bucket_row", "autotuned" or "heuristic"
  // With SuiteArgs::heuristic: the cost model's own config for the point, its time and error
  // (NaN when not asked for).
  std::string heuristic_config;
  double heuristic_us = std::numeric_limits<double>::quiet_NaN();
  double heuristic_err = std::numeric_limits<double>::quiet_NaN();
  double speedup() const { return cublas_us / fp8jit_us; }  // > 1: fp8jit is faster
  double tflops() const { return 2.0 * m * n * k / fp8jit_us * 1e-6; }
  double tbps() const { return (double(n) * k + double(m) * k + 2.0 * m * n) / fp8jit_us * 1e-6; }
  double weight_bytes() const { return double(n) * k; }
  // The weight alone read in `us`, in TB/s, and as a percentage of the run's copy bandwidth (NaN
  // when that is unknown).
  double weight_tbps(double us) const { return weight_bytes() / us * 1e-6; }
  double weight_pct_of_copy(double us) const;
};

// Device-to-device copy bandwidth of this run: a copy of `bytes` between two buffers, counted as
// bytes read + written (2 x bytes per copy, as a benchmark of torch's y.copy_(x) counts it),
// the median of `reps` event-timed copies after two warm-up copies.
struct CopyBandwidth {
  std::size_t bytes = 0;
  double us = 0;    // one copy
  double tbps = 0;  // 2 * bytes / us
};
CopyBandwidth measure_copy_bandwidth(Context& ctx, std::size_t bytes = std::size_t{1} << 30,
                                     int reps = 20);

// Runs every (shape, M) point; `on_row` sees each row as soon as it is measured.
std::vector<SuiteRow> run_suite(Context& ctx, const SuiteArgs& args,
                                const std::function<void(const SuiteRow&)>& on_row);

}  // namespace fp8jit::bench
