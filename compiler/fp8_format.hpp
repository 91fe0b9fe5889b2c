// Host-side fp8 encodings (e4m3fn: OCP, bias 7, NaN = S.1111.111, no infinities; e4m3fnuz: bias 8,
// the single NaN 0x80, no negative zero, no infinities). Used by references, tests and tools.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fp8jit/types.hpp"

namespace fp8jit::compiler {

// The value of `byte` in `format` (NaN for the NaN encodings).
double fp8_to_double(Fp8Format format, std::uint8_t byte);
// All 256 decoded values, for table-driven references.
std::array<double, 256> fp8_table(Fp8Format format);
// True when `byte` is a finite value in `format`.
bool fp8_is_finite(Fp8Format format, std::uint8_t byte);
// The nearest encoding of `x` (round to nearest even, saturating to the largest finite value;
// NaN -> the format's NaN).
std::uint8_t double_to_fp8(Fp8Format format, double x);

// `count` random finite encodings: normal draws (sd 1) through a table of 256, 8 bytes per draw
// of a 64-bit generator seeded with `seed` — fast enough for weights of gigabytes.
std::vector<std::uint8_t> random_fp8(Fp8Format format, std::size_t count, std::uint64_t seed);

// bf16 / fp16 bit patterns <-> float (round to nearest even).
std::uint16_t float_to_bf16(float x);
float bf16_to_float(std::uint16_t b);
std::uint16_t float_to_fp16(float x);
float fp16_to_float(std::uint16_t b);

}  // namespace fp8jit::compiler
