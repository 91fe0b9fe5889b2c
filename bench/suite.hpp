// The benchmark of DESIGN.md: fp8jit and cuBLASLt (outer-vector scales, bf16 out) in one process
// on the same operands; weights rotate among copies that together exceed 4x the L2 cache; each
// figure is the median over repetitions of event-timed rounds (one call per weight copy).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fp8jit/gemm.hpp"
#include "tools/models.hpp"

namespace fp8jit::bench {

struct SuiteArgs {
  std::vector<tools::WeightShape> shapes;
  std::vector<std::int64_t> ms = {1, 16, 64, 256, 1024, 4096, 8192};
  int reps = 20;        // timed rounds per point (median reported)
  bool bias = true;
  int check_rows = 2;   // rows of each result checked against the float64 host reference
};

struct SuiteRow {
  std::string shape;
  std::int64_t m = 0, n = 0, k = 0;
  int copies = 0;               // weight copies rotated through
  double fp8jit_us = 0, cublas_us = 0;
  double fp8jit_err = 0, cublas_err = 0;  // ||out - ref|| / ||ref|| on the checked rows
  double speedup() const { return cublas_us / fp8jit_us; }  // > 1: fp8jit is faster
  double tflops() const { return 2.0 * m * n * k / fp8jit_us * 1e-6; }
  double tbps() const { return (double(n) * k + double(m) * k + 2.0 * m * n) / fp8jit_us * 1e-6; }
};

// Runs every (shape, M) point; `on_row` sees each row as soon as it is measured.
std::vector<SuiteRow> run_suite(Context& ctx, const SuiteArgs& args,
                                const std::function<void(const SuiteRow&)>& on_row);

}  // namespace fp8jit::bench
