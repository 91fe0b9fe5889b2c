#include "compiler/fp8_format.hpp"

#include <random>

#include <cmath>
#include <bit>
#include <cstring>
#include <limits>

namespace fp8jit::compiler {

double fp8_to_double(Fp8Format format, std::uint8_t b) {
  const bool fnuz = format == Fp8Format::e4m3fnuz;
  if (fnuz ? b == 0x80 : (b & 0x7f) == 0x7f) return std::numeric_limits<double>::quiet_NaN();
  const int bias = fnuz ? 8 : 7;
  const int e = (b >> 3) & 0xf, m = b & 7;
  const double mag = e == 0 ? std::ldexp(m / 8.0, 1 - bias) : std::ldexp(1.0 + m / 8.0, e - bias);
  return (b & 0x80) ? -mag : mag;
}

std::array<double, 256> fp8_table(Fp8Format format) {
  std::array<double, 256> t{};
  for (int i = 0; i < 256; ++i) t[i] = fp8_to_double(format, static_cast<std::uint8_t>(i));
  return t;
}

bool fp8_is_finite(Fp8Format format, std::uint8_t b) { return !std::isnan(fp8_to_double(format, b)); }

std::uint8_t double_to_fp8(Fp8Format format, double x) {
  const bool fnuz = format == Fp8Format::e4m3fnuz;
  if (std::isnan(x)) return fnuz ? 0x80 : 0x7f;
  // Saturate first: past the largest finite value every distance below is huge (or infinite) and
  // the search would pick by its tie rule.
  const double max_finite = fnuz ? 240.0 : 448.0;
  if (std::fabs(x) > max_finite) x = std::copysign(max_finite, x);
  // Exhaustive nearest search over the 128 non-negative encodings: exact and plenty fast for
  // host-side data generation. Ties go to the even mantissa.
  const double a = std::fabs(x);
  int best = 0;
  double best_err = std::numeric_limits<double>::infinity();
  for (int b = 0; b < 128; ++b) {
    const double v = fp8_to_double(format, static_cast<std::uint8_t>(b));
    if (std::isnan(v)) continue;
    const double err = std::fabs(v - a);
    if (err < best_err || (err == best_err && (b & 1) == 0)) {
      best = b;
      best_err = err;
    }
  }
  if (best == 0 || x >= 0) return static_cast<std::uint8_t>(best);  // fnuz has no -0
  return static_cast<std::uint8_t>(best | 0x80);
}

std::uint16_t float_to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if (std::isnan(x)) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<std::uint16_t>(u >> 16);
}

float bf16_to_float(std::uint16_t b) {
  const std::uint32_t u = std::uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::uint16_t float_to_fp16(float x) { return std::bit_cast<std::uint16_t>(static_cast<_Float16>(x)); }
float fp16_to_float(std::uint16_t b) { return static_cast<float>(std::bit_cast<_Float16>(b)); }

std::vector<std::uint8_t> random_fp8(Fp8Format format, std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uint8_t pool[256];
  for (auto& b : pool) b = double_to_fp8(format, normal(rng));
  std::vector<std::uint8_t> v(count);
  for (std::size_t i = 0; i < count; i += 8) {
    const std::uint64_t r = rng();
    for (std::size_t j = 0; j < 8 && i + j < count; ++j) v[i + j] = pool[(r >> (8 * j)) & 255];
  }
  return v;
}

}  // namespace fp8jit::compiler
