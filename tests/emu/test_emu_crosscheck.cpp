// Cross-check of the emulated mma.sync family against the real one: the same mma_sm89 kernels
// (several configs, split-K included) on the GPU (sm_90a on an H100 runs the same mma.sync code)
// and on emu-sm89, the same operands and packed weight.
//  - exact inputs: A and W small integers (-2..2), sa / sw powers of two, bias a multiple of 1/4:
//    every product and partial sum is exact in fp32 (|sum| <= 2048), so the outputs must be
//    equal bit for bit;
//  - random inputs (normal fp8, scales in [0.5, 1.5)): the GPU's accumulation order and precision
//    are not the emulation's (one exact sum per mma, rounded once), so the outputs may differ by
//    output roundings: the stated bound is ||gpu - emu|| / ||gpu|| <= 2^-8 (one bf16 ulp).
// One line per case: "emu-crosscheck exact ... bitexact=yes" / "emu-crosscheck random ... ok".
// When this machine has a GPU but no host C++ compiler, the GPU results are saved
// (FP8JIT_CROSSCHECK_DIR, default build/emu-crosscheck) and the second test case compares them on
// a machine with one.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "compiler/fp8_format.hpp"
#include "compiler/layouts.hpp"
#include "tests/emu/emu_support.hpp"
#include "runtime/context_state.hpp"
#include "tests/support/gpu.hpp"
#include "tests/support/skip.hpp"

namespace {

using namespace fp8jit;
using compiler::GemmConfig;

constexpr double kRandomBound = 1.0 / 256;  // ||gpu - emu|| / ||gpu||, one bf16 ulp

struct Case {
  std::string kind;  // "exact" or "random"
  std::int64_t m = 0;
  std::string config;
  tools::GemmProblem p;
  std::vector<std::uint16_t> gpu;  // the GPU's output bits, [m, n]
};

std::vector<Case> make_cases(std::mt19937_64& rng) {
  struct Shape {
    std::int64_t n, k;
    const char* config;
    OutDType out;
    bool bias;
  };
  const Shape shapes[] = {{48, 256, "bm8_bn16_bk32_w1_s1_k1", OutDType::bf16, true},
                          {272, 512, "bm16_bn64_bk64_w4_s2_k1", OutDType::bf16, false},
                          {272, 512, "bm32_bn32_bk128_w2_s2_k4", OutDType::fp16, true},
                          {48, 512, "bm64_bn128_bk64_w4_s2_k2", OutDType::bf16, true}};
  std::vector<Case> cases;
  for (const char* kind : {"exact", "random"})
    for (const Shape& s : shapes)
      for (const std::int64_t m : {1, 7, 16, 37, 64}) {
        Case c{kind, m, s.config, tools::make_problem(m, s.n, s.k, Fp8Format::e4m3fn, s.out, s.bias, rng), {}};
        if (c.kind == "exact") {
          std::uniform_int_distribution<int> small(-2, 2), pow2(-2, 1), quarter(-8, 8);
          for (auto& b : c.p.a) b = compiler::double_to_fp8(Fp8Format::e4m3fn, small(rng));
          for (auto& b : c.p.w) b = compiler::double_to_fp8(Fp8Format::e4m3fn, small(rng));
          for (auto& x : c.p.sa) x = std::ldexp(1.f, pow2(rng));
          for (auto& x : c.p.sw) x = std::ldexp(1.f, pow2(rng) + 1);
          for (auto& x : c.p.b)
            x = s.out == OutDType::bf16 ? compiler::float_to_bf16(quarter(rng) / 4.f)
                                        : compiler::float_to_fp16(quarter(rng) / 4.f);
        }
        cases.push_back(std::move(c));
      }
  return cases;
}

// out = the GEMM of `c` on `ctx` with `c.config` in family mma_sm89, weight packed on the host.
std::vector<std::uint16_t> run(Context& ctx, const Case& c) {
  const auto& p = c.p;
  std::vector<std::uint8_t> packed(compiler::packed_bytes(p.n, p.k));
  compiler::pack_host(WeightLayout::nv_mma16x32, p.w.data(), packed.data(), p.n, p.k);
  auto a = ctx.alloc(p.a.size()), w = ctx.alloc(packed.size()), sa = ctx.alloc(p.m * 4),
       sw = ctx.alloc(p.n * 4), bias = ctx.alloc(p.n * 2), out = ctx.alloc(p.m * p.n * 2);
  ctx.copy_to_device(a.get(), p.a.data(), p.a.size());
  ctx.copy_to_device(w.get(), packed.data(), packed.size());
  ctx.copy_to_device(sa.get(), p.sa.data(), p.m * 4);
  ctx.copy_to_device(sw.get(), p.sw.data(), p.n * 4);
  if (p.bias) ctx.copy_to_device(bias.get(), p.b.data(), p.n * 2);
  std::vector<std::uint16_t> host(p.m * p.n, test::kPoison);
  ctx.copy_to_device(out.get(), host.data(), host.size() * 2);
  // NOTE: the kernel is requested by an explicit spec in family mma_sm89 (not gemm_spec's choice
  // for the arch), so that an sm_90a GPU runs the mma.sync kernel whatever other families it has.
  ContextState& s = runtime::state_of(ctx);
  compiler::KernelSpec spec = compiler::gemm_spec(s.target, p.n, p.k, GemmConfig::parse(c.config, s.target),
                                                  p.out, p.bias);
  spec.config.family = compiler::Family::mma_sm89;
  spec.layout = WeightLayout::nv_mma16x32;
  const runtime::LoadedKernel& k = s.kernels->get(spec);
  runtime::LaunchDims dims;
  dims.grid[0] = static_cast<unsigned>((p.n + spec.config.bn - 1) / spec.config.bn);
  dims.grid[1] = static_cast<unsigned>((p.m + spec.config.bm - 1) / spec.config.bm);
  dims.block[0] = static_cast<unsigned>(k.threads);
  const void* ap = a.get();
  const float* sap = static_cast<const float*>(sa.get());
  const void* wp = w.get();
  const float* swp = static_cast<const float*>(sw.get());
  const void* bp = p.bias ? bias.get() : nullptr;
  void* op = out.get();
  int m = static_cast<int>(p.m);
  void* params[] = {&ap, &sap, &wp, &swp, &bp, &op, &m};
  s.driver->launch(k.function, dims, nullptr, params);
  ctx.synchronize();
  ctx.copy_to_host(host.data(), out.get(), host.size() * 2);
  return host;
}

// Compares, prints the case's line, and checks it.
void compare(const Case& c, const std::vector<std::uint16_t>& emu) {
  const auto& p = c.p;
  const auto value = [&](std::uint16_t b) {
    return p.out == OutDType::bf16 ? compiler::bf16_to_float(b) : compiler::fp16_to_float(b);
  };
  std::size_t mismatches = 0;
  double num = 0, den = 0, max_abs = 0;
  for (std::size_t i = 0; i < emu.size(); ++i) {
    mismatches += emu[i] != c.gpu[i];
    const double g = value(c.gpu[i]), e = value(emu[i]), d = g - e;
    num += d * d;
    den += g * g;
    max_abs = std::max(max_abs, std::fabs(d));
  }
  const double rel = den > 0 ? std::sqrt(num / den) : 0;
  const std::string head = "emu-crosscheck " + c.kind + " N=" + std::to_string(p.n) + " K=" +
                           std::to_string(p.k) + " M=" + std::to_string(p.m) + " cfg=" + c.config +
                           " out=" + std::string(to_string(p.out)) + " bias=" + std::to_string(p.bias);
  INFO(head);
  if (c.kind == "exact") {
    std::printf("%s elements=%zu mismatches=%zu bitexact=%s\n", head.c_str(), emu.size(), mismatches,
                mismatches ? "NO" : "yes");
    CHECK(mismatches == 0);
  } else {
    std::printf("%s elements=%zu differing=%zu max_abs=%.3e rel_diff=%.3e bound=%.3e %s\n",
                head.c_str(), emu.size(), mismatches, max_abs, rel, kRandomBound,
                rel <= kRandomBound ? "ok" : "FAIL");
    CHECK(rel <= kRandomBound);
  }
}

std::string crosscheck_dir() {
  const char* d = std::getenv("FP8JIT_CROSSCHECK_DIR");  // test-only
  return d && *d ? d : std::string(FP8JIT_BINARY_DIR) + "/emu-crosscheck";
}

// Saved GPU results: one file of cases (problem, config, GPU output), raw little-endian arrays.
template <class T>
void put(std::ofstream& f, const std::vector<T>& v) {
  const std::uint64_t n = v.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
}
template <class T>
void get(std::ifstream& f, std::vector<T>& v) {
  std::uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  v.resize(n);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
}

void save(const std::vector<Case>& cases, const std::string& file) {
  std::ofstream f(file, std::ios::binary);
  f << cases.size() << "\n";
  for (const Case& c : cases) {
    f << c.kind << " " << c.config << " " << c.p.m << " " << c.p.n << " " << c.p.k << " "
      << int(c.p.out) << " " << int(c.p.bias) << "\n";
    put(f, c.p.a), put(f, c.p.w), put(f, c.p.sa), put(f, c.p.sw), put(f, c.p.b), put(f, c.gpu);
  }
  REQUIRE(f.good());
}

std::vector<Case> load(const std::string& file) {
  std::ifstream f(file, std::ios::binary);
  std::size_t count = 0;
  f >> count;
  std::vector<Case> cases(count);
  for (Case& c : cases) {
    int out = 0, bias = 0;
    f >> c.kind >> c.config >> c.p.m >> c.p.n >> c.p.k >> out >> bias;
    f.get();
    c.m = c.p.m;
    c.p.out = static_cast<OutDType>(out);
    c.p.bias = bias;
    get(f, c.p.a), get(f, c.p.w), get(f, c.p.sa), get(f, c.p.sw), get(f, c.p.b), get(f, c.gpu);
  }
  REQUIRE(f.good());
  return cases;
}

void compare_on_emu(const std::vector<Case>& cases) {
  auto emu = test::emu_context_or_skip("emu-sm89");
  if (!emu) return;
  for (const Case& c : cases) compare(c, run(*emu, c));
}

}  // namespace

TEST_CASE("gpu: emu-sm89 matches mma.sync on the GPU, bit for bit on exact inputs",
          "[gpu][emu-crosscheck]") {
  auto gpu_driver = test::gpu_or_skip();
  if (!gpu_driver) return;
  Context gpu(Options::from_env());
  std::printf("emu-crosscheck device: %s (%s)\n", gpu.device_name().c_str(), gpu.target().c_str());
  auto rng = test::seeded_rng("emu-crosscheck");
  std::vector<Case> cases = make_cases(rng);
  for (Case& c : cases) c.gpu = run(gpu, c);
  const std::string dir = crosscheck_dir();
  std::filesystem::create_directories(dir);
  save(cases, dir + "/cases.bin");
  try {
    compiler::make_emu_toolchain();
  } catch (const Error& e) {
    std::printf("emu-crosscheck: SKIPPED the comparison here: no host C++ compiler (%s). The GPU "
                "results are in %s/cases.bin: on a machine with g++, run\n  "
                "FP8JIT_CROSSCHECK_DIR=%s build/tests/fp8jit_tests 'emu: cross-check*'\n",
                e.what(), dir.c_str(), dir.c_str());
    WARN("emu-crosscheck: comparison skipped: no host C++ compiler: " << e.what());
    return;
  }
  compare_on_emu(cases);
}

TEST_CASE("emu: cross-check of emu-sm89 against saved GPU results", "[emu]") {
  const std::string file = crosscheck_dir() + "/cases.bin";
  if (!std::filesystem::exists(file)) {
    fp8jit::test::skip("no saved GPU results at " + file +
                       " (the [gpu] cross-check writes them on a GPU machine)");
    return;
  }
  compare_on_emu(load(file));
}
