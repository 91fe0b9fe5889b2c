// Helpers of the emulation tests: a Context on an emulation target (or a printed SKIPPED when
// this machine has no host C++ compiler), and a GEMM check against the float64 reference with
// fresh random data and poisoned outputs, as the GPU suite does (tests/runtime/test_gemm_gpu.cpp).
#pragma once

#include <catch2/catch.hpp>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "compiler/kernel_spec.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/fp8jit.hpp"
#include "tools/gemm_check.hpp"

namespace fp8jit::test {

constexpr std::uint16_t kPoison = 0xffff;  // NaN in bf16 and fp16; never produced by a kernel

// The emu toolchain, or nullptr after printing "SKIPPED (<test>): <why>".
std::unique_ptr<compiler::Toolchain> emu_toolchain_or_skip();

// A Context on `target` ("emu-gfx942", ...) with the environment's other options, or nullptr
// after printing why it skipped.
std::unique_ptr<Context> emu_context_or_skip(const std::string& target);

// A seeded generator; the seed is printed so that a failure can be replayed (FP8JIT_TEST_SEED).
std::mt19937_64 seeded_rng(const char* what);

// One weight on the device: random problem data for max_m tokens, the packed weight and buffers.
struct EmuProblem {
  tools::GemmProblem p;
  DeviceBuffer a, w, sa, sw, bias, out;
  PackedWeight packed;
};
// Uploads a fresh random problem and packs its weight with the target's preshuffle kernel, or with
// `packer` (host bytes in the native layout, adopted with wrap_packed_weight) when given.
EmuProblem make_emu_problem(Context& ctx, std::int64_t max_m, std::int64_t n, std::int64_t k,
                            OutDType out, bool bias, std::mt19937_64& rng,
                            std::vector<std::uint8_t> (*packer)(const tools::GemmProblem&) = nullptr);

// Runs the GEMM for the first m tokens (config forced, or the tuned table / heuristic when
// `config` is null) on an output poisoned beforehand; returns ||out - ref|| / ||ref|| over all m
// rows (+inf when an element was not written), and checks that rows >= m kept the poison.
double run_and_compare(Context& ctx, EmuProblem& e, std::int64_t m,
                       const compiler::GemmConfig* config);

}  // namespace fp8jit::test
