// Host-side data and float64 reference for checking fp8 GEMMs: fresh random operands (never
// zeros), a reference over chosen rows, and the relative error ||out - ref|| / ||ref||.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "fp8jit/types.hpp"

namespace fp8jit::tools {

struct GemmProblem {
  std::int64_t m = 0, n = 0, k = 0;
  Fp8Format format = Fp8Format::e4m3fn;
  OutDType out = OutDType::bf16;
  bool bias = false;
  std::vector<std::uint8_t> a, w;  // [m, k], [n, k] row-major fp8 (finite values only)
  std::vector<float> sa, sw;       // [m], [n]
  std::vector<std::uint16_t> b;    // [n] bias bits (out dtype), empty without bias
};

// Random operands: fp8 values drawn from a normal distribution (sd 1) and encoded, scales in
// [0.5, 1.5), bias in [-1, 1).
GemmProblem make_problem(std::int64_t m, std::int64_t n, std::int64_t k, Fp8Format format,
                         OutDType out, bool bias, std::mt19937_64& rng);

// float64 reference of rows `rows` of out, row-major [rows.size(), n].
std::vector<double> reference_rows(const GemmProblem& p, const std::vector<std::int64_t>& rows);

// ||out - ref|| / ||ref|| over `rows`, with `out` the full [m, n] result as bf16/fp16 bits.
// NaN or an unwritten (poisoned) element yields +inf.
double relative_error(const GemmProblem& p, const std::vector<std::uint16_t>& out,
                      const std::vector<std::int64_t>& rows, std::uint16_t poison);
// The same against `ref` = reference_rows(p, rows), computed once for several results.
double relative_error(const GemmProblem& p, const std::vector<std::uint16_t>& out,
                      const std::vector<std::int64_t>& rows, const std::vector<double>& ref,
                      std::uint16_t poison);

// Up to `count` distinct rows of [0, m), always including 0 and m - 1.
std::vector<std::int64_t> sample_rows(std::int64_t m, int count, std::mt19937_64& rng);

}  // namespace fp8jit::tools
