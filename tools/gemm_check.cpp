#include "tools/gemm_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <thread>

#include "compiler/fp8_format.hpp"

namespace fp8jit::tools {

using namespace fp8jit::compiler;

GemmProblem make_problem(std::int64_t m, std::int64_t n, std::int64_t k, Fp8Format format,
                         OutDType out, bool bias, std::mt19937_64& rng) {
  GemmProblem p;
  p.m = m, p.n = n, p.k = k, p.format = format, p.out = out, p.bias = bias;
  p.a = random_fp8(format, static_cast<std::size_t>(m * k), rng());
  p.w = random_fp8(format, static_cast<std::size_t>(n * k), rng());
  std::uniform_real_distribution<float> scale(0.5f, 1.5f), unit(-1.f, 1.f);
  p.sa.resize(m);
  p.sw.resize(n);
  for (auto& s : p.sa) s = scale(rng);
  for (auto& s : p.sw) s = scale(rng);
  if (bias) {
    p.b.resize(n);
    for (auto& x : p.b) x = out == OutDType::bf16 ? float_to_bf16(unit(rng)) : float_to_fp16(unit(rng));
  }
  return p;
}

std::vector<double> reference_rows(const GemmProblem& p, const std::vector<std::int64_t>& rows) {
  const auto lut = fp8_table(p.format);
  std::vector<double> ref(rows.size() * p.n);
  std::vector<std::vector<double>> arows(rows.size(), std::vector<double>(p.k));
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::int64_t c = 0; c < p.k; ++c) arows[r][c] = lut[p.a[rows[r] * p.k + c]];
  // The weight's rows split over the hardware threads: a GB-sized weight takes seconds alone.
  const std::int64_t threads = std::max(1u, std::thread::hardware_concurrency());
  auto part = [&](std::int64_t t) {
    for (std::int64_t n = t; n < p.n; n += threads) {
      const std::uint8_t* w = &p.w[n * p.k];
      for (std::size_t r = 0; r < rows.size(); ++r) {
        double acc = 0;
        for (std::int64_t c = 0; c < p.k; ++c) acc += arows[r][c] * lut[w[c]];
        double v = double(p.sa[rows[r]]) * double(p.sw[n]) * acc;
        if (p.bias) v += p.out == OutDType::bf16 ? bf16_to_float(p.b[n]) : fp16_to_float(p.b[n]);
        ref[r * p.n + n] = v;
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    for (std::int64_t t = 1; t < threads; ++t) pool.emplace_back(part, t);
    part(0);
  }
  return ref;
}

double relative_error(const GemmProblem& p, const std::vector<std::uint16_t>& out,
                      const std::vector<std::int64_t>& rows, std::uint16_t poison) {
  return relative_error(p, out, rows, reference_rows(p, rows), poison);
}

double relative_error(const GemmProblem& p, const std::vector<std::uint16_t>& out,
                      const std::vector<std::int64_t>& rows, const std::vector<double>& ref,
                      std::uint16_t poison) {
  double num = 0, den = 0;
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::int64_t n = 0; n < p.n; ++n) {
      const std::uint16_t bits = out[rows[r] * p.n + n];
      if (bits == poison) return std::numeric_limits<double>::infinity();
      const double got = p.out == OutDType::bf16 ? bf16_to_float(bits) : fp16_to_float(bits);
      if (!std::isfinite(got)) return std::numeric_limits<double>::infinity();
      const double d = got - ref[r * p.n + n];
      num += d * d;
      den += ref[r * p.n + n] * ref[r * p.n + n];
    }
  return std::sqrt(num / den);
}

std::vector<std::int64_t> sample_rows(std::int64_t m, int count, std::mt19937_64& rng) {
  std::set<std::int64_t> s = {0, m - 1};
  std::uniform_int_distribution<std::int64_t> pick(0, m - 1);
  while (static_cast<std::int64_t>(s.size()) < std::min<std::int64_t>(m, count)) s.insert(pick(rng));
  return {s.begin(), s.end()};
}

}  // namespace fp8jit::tools
