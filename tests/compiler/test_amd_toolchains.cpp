// The AMD path without an AMD GPU: gemm_cdna3 compiled by clang for gfx942 / gfx950 (MFMA fp8 in
// the disassembly, comgr resources), hiprtc for gfx90a (and its refusal of archs it does not
// know, which must never reach hiprtc), compile errors that carry the log, the HIP driver failing
// cleanly, and gemm_cdna3 executed on a host emulation of 64-lane waves against a float64
// reference. A missing prerequisite prints "SKIPPED: <why>".
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <catch2/catch.hpp>

#include "compiler/comgr.hpp"
#include "compiler/kernel_spec.hpp"
#include "compiler/render.hpp"
#include "compiler/templates.hpp"
#include "compiler/toolchain.hpp"
#include "fp8jit/error.hpp"
#include "runtime/driver.hpp"

using namespace fp8jit;
using namespace fp8jit::compiler;

namespace {

// The toolchain made by `make`, or nullptr after printing why it is skipped.
std::unique_ptr<Toolchain> toolchain_or_skip(std::unique_ptr<Toolchain> (*make)(),
                                             const char* what) {
  try {
    return make();
  } catch (const Error& e) {
    WARN("SKIPPED: no " << what << " toolchain on this machine: " << e.what());
    return nullptr;
  }
}

// stdout of a shell command (test-only; the library never uses a shell).
std::string capture(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

// Disassembly of `bin` with the llvm-objdump next to `clang` (empty when there is none).
std::string disassemble(const Binary& bin, const std::string& clang, const std::string& arch) {
  const auto objdump = std::filesystem::path(clang).parent_path() / "llvm-objdump";
  if (!std::filesystem::exists(objdump)) return {};
  const auto file = std::filesystem::temp_directory_path() /
                    ("fp8jit-test-" + std::to_string(::getpid()) + "-" + arch + ".co");
  {
    FILE* f = std::fopen(file.c_str(), "wb");
    REQUIRE(f);
    std::fwrite(bin.bytes.data(), 1, bin.bytes.size(), f);
    std::fclose(f);
  }
  const std::string text = capture(objdump.string() + " -d --mcpu=" + arch + " " + file.string());
  std::filesystem::remove(file);
  return text;
}

CompileRequest request_for(const KernelSpec& spec) {
  const RenderedSource src = render(spec);
  CompileRequest req;
  req.source = src.text;
  req.kernel_name = src.kernel_name;
  req.target = spec.target;
  req.spec = spec.canonical();
  return req;
}

// Compiles gemm_cdna3 for `arch` with two configs (one with every tail: N % bn, K % bk and
// K % 64 == 32) and checks the fp8 MFMA, registers and spills.
void check_clang_gemm(const std::string& arch) {
  auto tc = toolchain_or_skip(&make_clang_toolchain, "clang");
  if (!tc) return;
  const Target target = Target::parse(arch);
  if (!tc->supports(target)) {
    REQUIRE_THROWS_AS(tc->compile(request_for(
                          gemm_spec(target, 4096, 4096, GemmConfig{}, OutDType::bf16, false))),
                      InvalidArgument);
    WARN("SKIPPED: " << tc->version() << " (" << tc->path() << ") cannot build " << arch);
    return;
  }
  struct Case {
    std::int64_t n, k;
    GemmConfig cfg;
    bool bias;
  };
  const Case cases[] = {{4096, 4096, GemmConfig{32, 128, 128, 4, 2, 1}, true},
                        {2064, 1440, GemmConfig{16, 64, 128, 2, 1, 1}, false}};
  for (const Case& c : cases) {
    const KernelSpec spec = gemm_spec(target, c.n, c.k, c.cfg, OutDType::bf16, c.bias);
    const Binary bin = tc->compile(request_for(spec));
    INFO(spec.canonical() << "\nlog: " << bin.log);
    REQUIRE(!bin.bytes.empty());
    CHECK(bin.resources.registers > 0);
    CHECK(bin.resources.sgprs > 0);
    CHECK(bin.resources.spills == 0);
    CHECK(bin.resources.shared_bytes == 0);
    try {
      // The metadata reader names the kernels it has when asked for one it has not.
      CHECK_THROWS_WITH(Comgr::load().kernel_resources(bin.bytes, "no_such_kernel"),
                        Catch::Contains(spec.kernel_name()));
    } catch (const Error& e) {
      WARN("SKIPPED: comgr checks: " << e.what());
    }
    const std::string dis = disassemble(bin, tc->path(), arch);
    if (dis.empty()) {
      WARN("SKIPPED: disassembly check, no llvm-objdump next to " << tc->path());
    } else {
      CHECK(dis.find("v_mfma_f32_16x16x32_fp8_fp8") != std::string::npos);
      CHECK(dis.find("global_load_dwordx4") != std::string::npos);
    }
    WARN(arch << " " << spec.kernel_name() << ": " << tc->version() << ", " << bin.compile_ms
              << " ms, " << bin.resources.registers << " VGPRs, " << bin.resources.sgprs
              << " SGPRs, " << bin.resources.spills << " spills, " << bin.bytes.size() << " bytes");
  }
}

}  // namespace

TEST_CASE("clang builds gemm_cdna3 for gfx942 with fp8 MFMA and no spills", "[amd][clang]") {
  check_clang_gemm("gfx942");
}

TEST_CASE("clang builds gemm_cdna3 for gfx950 with fp8 MFMA and no spills", "[amd][clang]") {
  check_clang_gemm("gfx950");
}

TEST_CASE("clang reports a compile error with the compiler's log", "[amd][clang]") {
  auto tc = toolchain_or_skip(&make_clang_toolchain, "clang");
  if (!tc) return;
  CompileRequest req;
  req.source = expand_template("prelude_hip.hip") +
               "FP8JIT_KERNEL void broken(int* p) { p[0] = fp8jit_no_such_name; }\n";
  req.kernel_name = "broken";
  req.target = Target::parse("gfx942");
  req.spec = "test spec";
  try {
    tc->compile(req);
    FAIL("a source with an undeclared identifier compiled");
  } catch (const CompileError& e) {
    CHECK(e.log().find("fp8jit_no_such_name") != std::string::npos);
    CHECK(e.log().find("error") != std::string::npos);
    CHECK(e.options().find("--offload-arch=gfx942") != std::string::npos);
    CHECK(e.spec() == "test spec");
    CHECK(std::filesystem::exists(e.source_path()));
    std::filesystem::remove(e.source_path());
  }
  // The prelude's fp8 MFMA is a compile error, not a silent fallback, where the arch has none.
  req.source = expand_template("prelude_hip.hip") +
               "FP8JIT_KERNEL void no_mfma(fp8jit::v4f* p) { p[0] = fp8jit::mfma_16x16x32_fp8(1, "
               "2, p[0]); }\n";
  req.target = Target::parse("gfx90a");
  try {
    tc->compile(req);
    FAIL("fp8 MFMA compiled for gfx90a");
  } catch (const CompileError& e) {
    CHECK(e.log().find("needs gfx942 or gfx950") != std::string::npos);
    std::filesystem::remove(e.source_path());
  }
}

TEST_CASE("clang refuses targets it does not build, before compiling", "[amd][clang]") {
  auto tc = toolchain_or_skip(&make_clang_toolchain, "clang");
  if (!tc) return;
  CHECK_FALSE(tc->supports(Target::parse("sm_90a")));
  CHECK_FALSE(tc->supports(Target::parse("gfx942:foo+")));
  CHECK(tc->supports(Target::parse("gfx942:sramecc+:xnack-")));
  CompileRequest req;
  req.source = "x";
  req.kernel_name = "k";
  req.target = Target::parse("sm_90a");
  CHECK_THROWS_AS(tc->compile(req), InvalidArgument);
  CHECK(tc->version().rfind("clang ", 0) == 0);
}

TEST_CASE("comgr lists ISAs and reports errors for a kernel not in a code object", "[amd][comgr]") {
  std::unique_ptr<Comgr> comgr;
  try {
    comgr = std::make_unique<Comgr>(Comgr::load());
  } catch (const Error& e) {
    WARN("SKIPPED: comgr is not installed: " << e.what());
    return;
  }
  const auto isas = comgr->isa_names();
  REQUIRE(!isas.empty());
  CHECK(comgr->version().rfind("comgr ", 0) == 0);
  CHECK(comgr->knows("gfx90a"));
  CHECK(comgr->knows("gfx90a:sramecc+:xnack-"));
  CHECK_FALSE(comgr->knows("gfx9999"));
  CHECK_FALSE(comgr->knows(""));
  const bool listed = std::any_of(isas.begin(), isas.end(), [](const std::string& s) {
    return s.find("--gfx942") != std::string::npos;
  });
  CHECK(comgr->knows("gfx942") == listed);
  CHECK(comgr_knows("gfx90a"));
  CHECK_THROWS_AS(comgr->kernel_resources({1, 2, 3}, "k"), Error);
  CHECK(amd_features_valid(""));
  CHECK(amd_features_valid(":sramecc+:xnack-"));
  CHECK_FALSE(amd_features_valid(":sramecc+:sramecc-"));
  CHECK_FALSE(amd_features_valid(":foo+"));
  CHECK_FALSE(amd_features_valid("sramecc+"));
}

TEST_CASE("hiprtc builds the AMD prelude for gfx90a and refuses unknown archs", "[amd][hiprtc]") {
  auto tc = toolchain_or_skip(&make_hiprtc_toolchain, "hiprtc");
  if (!tc) return;
  REQUIRE(tc->supports(Target::parse("gfx90a")));
  CHECK_FALSE(tc->supports(Target::parse("gfx90a:bogus+")));  // would corrupt hiprtc 5.2's heap

  // Every common prelude function, plus the gemm family's template text (parsed, not instantiated:
  // gfx90a has no fp8 MFMA), under hiprtc's pre-included HIP declarations.
  CompileRequest req;
  req.source = expand_template("gemm_cdna3.hip") + R"(
FP8JIT_KERNEL FP8JIT_LAUNCH_BOUNDS(256)
void prelude_probe(const void* FP8JIT_RESTRICT in, void* FP8JIT_RESTRICT out, float* f) {
  FP8JIT_SHARED fp8jit::u32 lds[256];
  const fp8jit::u32 t = fp8jit::thread_x();
  lds[t] = fp8jit::block_x() + fp8jit::block_y() + fp8jit::block_z() + fp8jit::grid_dim_x();
  fp8jit::barrier();
  const fp8jit::u64 i = (fp8jit::u64(fp8jit::block_x()) * fp8jit::block_dim_x() + t) * 16;
  fp8jit::u32x4 v = fp8jit::load16(static_cast<const char*>(in) + i);
  v.x += lds[(t + 1) % 256] + fp8jit::u32(fp8jit::load8(static_cast<const char*>(in) + i)) +
         fp8jit::load4(static_cast<const char*>(in) + i + 8);
  fp8jit::store16(static_cast<char*>(out) + i, v);
  f[t] = fp8jit::from_out_bits<fp8jit::bf16_t>(fp8jit::to_out_bits<fp8jit::bf16_t>(f[t])) +
         fp8jit::from_out_bits<fp8jit::fp16_t>(fp8jit::to_out_bits<fp8jit::fp16_t>(f[t])) +
         fp8jit::warp_size();
}
)";
  req.kernel_name = "prelude_probe";
  req.target = Target::parse("gfx90a:sramecc+:xnack-");
  const Binary bin = tc->compile(req);
  INFO("log: " << bin.log);
  REQUIRE(!bin.bytes.empty());
  CHECK(bin.bytes[1] == 'E');  // an ELF code object, not an offload bundle
  CHECK(bin.resources.registers > 0);
  CHECK(bin.resources.spills == 0);
  CHECK(bin.resources.shared_bytes == 1024);
  WARN("hiprtc gfx90a prelude probe: " << tc->version() << ", " << bin.compile_ms << " ms, "
                                       << bin.resources.registers << " VGPRs");

  // The layouts' preshuffle kernel, as render() builds it, where the template exists.
  try {
    template_text("preshuffle.inc");
    const Binary pre = tc->compile(
        request_for(preshuffle_spec(Target::parse("gfx90a"), WeightLayout::aiter16x16)));
    CHECK(!pre.bytes.empty());
  } catch (const Error& e) {
    WARN("SKIPPED: preshuffle kernel under hiprtc: " << e.what());
  }

  if (tc->supports(Target::parse("gfx942"))) {
    WARN("SKIPPED: refusal check, this hiprtc knows gfx942 (" << tc->version() << ")");
    return;
  }
  req.target = Target::parse("gfx942");
  try {
    tc->compile(req);
    FAIL("hiprtc compiled for an arch comgr does not list");
  } catch (const InvalidArgument& e) {
    CHECK(std::string(e.what()).find("gfx942") != std::string::npos);
  }
}

TEST_CASE("the HIP driver fails cleanly where there is no AMD GPU", "[amd][driver]") {
  try {
    auto driver = runtime::make_hip_driver(0);
    WARN("SKIPPED: an AMD GPU is present (" << driver->device().name << ", "
                                            << driver->device().arch << ")");
    CHECK(driver->device().arch.rfind("gfx", 0) == 0);
    CHECK(driver->device().multiprocessors > 0);
  } catch (const DriverError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.rfind("failed to ", 0) == 0);
    if (what.find("failed to load the HIP runtime") != std::string::npos)
      WARN("SKIPPED: no HIP runtime on this machine: " << what);
    else
      CHECK(what.find("no HIP device") != std::string::npos);
  }
  CHECK_THROWS_AS(runtime::make_hip_driver(-1), DriverError);
}

// ---- gemm_cdna3 on an emulated wave ------------------------------------------------------------
// The family's text is compiled for the host against a stand-in prelude: each lane is a thread,
// the MFMA is a 64-thread rendezvous that computes the documented 16x16x32 operand / result
// layout, and every 16-byte load and 8-byte store is bounds-checked against A, W and out.

namespace emulation {
#define FP8JIT_PRELUDE_HIP 1  // the real prelude's guard: gemm_cdna3's #include becomes empty
#define FP8JIT_DEVICE inline
namespace fp8jit {
using u8 = unsigned char;
using u16 = unsigned short;
using u32 = unsigned int;
using u64 = unsigned long long;
using i32 = int;
using i64 = long long;
struct alignas(16) u32x4 {
  u32 x, y, z, w;
};
using v4f = float __attribute__((vector_size(16)));
struct bf16_t {
  u16 bits;
};
struct fp16_t {
  u16 bits;
};

struct Range {
  const u8* begin;
  std::size_t size;
  bool holds(const void* p, std::size_t n) const {
    const u8* b = static_cast<const u8*>(p);
    return b >= begin && b + n <= begin + size;
  }
};
struct Wave {
  std::barrier<> sync{64};
  u64 a[64], b[64];
};
struct Machine {
  Range loads[2], store;
  std::mutex mutex;
  std::string fault;  // the first out-of-bounds access
  void report(const char* what, const void* p) {
    std::lock_guard<std::mutex> lock(mutex);
    if (fault.empty())
      fault = std::string(what) + " out of bounds at " +
              std::to_string(reinterpret_cast<std::uintptr_t>(p));
  }
};
struct LaneState {
  u32 thread = 0, bx = 0, by = 0;
  Wave* wave = nullptr;
  Machine* machine = nullptr;
};
thread_local LaneState lane_state;

inline u32 thread_x() { return lane_state.thread; }
inline u32 block_x() { return lane_state.bx; }
inline u32 block_y() { return lane_state.by; }
inline u32 first_lane(u32 v) { return v; }
inline u32x4 load16(const void* p) {
  u32x4 v{0, 0, 0, 0};
  Machine& m = *lane_state.machine;
  if (!m.loads[0].holds(p, 16) && !m.loads[1].holds(p, 16))
    m.report("load16", p);
  else
    std::memcpy(&v, p, 16);
  return v;
}
inline void store8(void* p, u64 v) {
  Machine& m = *lane_state.machine;
  if (!m.store.holds(p, 8))
    m.report("store8", p);
  else
    std::memcpy(p, &v, 8);
}

inline float e4m3fn_to_float(u8 b) {
  const int sign = b >> 7, exp = (b >> 3) & 15, man = b & 7;
  const float mag = exp == 0 ? std::ldexp(man / 8.0f, -6) : std::ldexp(1.0f + man / 8.0f, exp - 7);
  return sign ? -mag : mag;
}
inline u16 float_to_bf16_bits(float f) {
  u32 u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<u16>(u >> 16);
}
inline float bf16_bits_to_float(u16 b) {
  const u32 u = static_cast<u32>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline u16 float_to_fp16_bits(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  u16 b;
  std::memcpy(&b, &h, 2);
  return b;
}
inline float fp16_bits_to_float(u16 b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}
template <class T>
u16 to_out_bits(float f) {
  return std::is_same_v<T, bf16_t> ? float_to_bf16_bits(f) : float_to_fp16_bits(f);
}
template <class T>
float from_out_bits(u16 b) {
  return std::is_same_v<T, bf16_t> ? bf16_bits_to_float(b) : fp16_bits_to_float(b);
}

// v_mfma_f32_16x16x32_fp8_fp8 as documented in prelude_hip.hip (OCP e4m3fn inputs, as gfx950).
template <int kUnused = 0>
v4f mfma_16x16x32_fp8(u64 a, u64 b, v4f acc) {
  Wave& w = *lane_state.wave;
  const u32 lane = lane_state.thread % 64;
  w.a[lane] = a;
  w.b[lane] = b;
  w.sync.arrive_and_wait();
  for (int i = 0; i < 4; ++i) {
    const u32 row = 4 * (lane / 16) + i, col = lane % 16;
    float sum = 0;
    for (int k = 0; k < 32; ++k) {
      const u8 x = static_cast<u8>(w.a[16 * (k / 8) + row] >> (8 * (k % 8)));
      const u8 y = static_cast<u8>(w.b[16 * (k / 8) + col] >> (8 * (k % 8)));
      sum += e4m3fn_to_float(x) * e4m3fn_to_float(y);
    }
    acc[i] += sum;
  }
  w.sync.arrive_and_wait();  // nobody overwrites a / b before every lane has read them
  return acc;
}
}  // namespace fp8jit
#include "templates/gemm_cdna3.hip"
#undef FP8JIT_DEVICE
#undef FP8JIT_PRELUDE_HIP
}  // namespace emulation

namespace {

template <long N, long K, int BM, int BN, int BK, int Warps, int Stages, bool Bias, class Out>
struct EmuSpec {
  static constexpr long n = N, k = K;
  static constexpr int bm = BM, bn = BN, bk = BK, warps = Warps, stages = Stages, split_k = 1;
  static constexpr bool has_bias = Bias;
  using out_t = Out;
};

// aiter16x16 written straight from its definition: view [N/16, 16, K/32, 2, 16] permuted to
// [N/16, K/32, 2, 16, 16].
std::vector<std::uint8_t> pack_aiter16x16(const std::vector<std::uint8_t>& w, long n, long k) {
  std::vector<std::uint8_t> packed(w.size());
  for (long r = 0; r < n; ++r)
    for (long c = 0; c < k; ++c) {
      const long nb = r / 16, i = r % 16, kb = c / 32, h = (c % 32) / 16, j = c % 16;
      packed[(((nb * (k / 32) + kb) * 2 + h) * 16 + i) * 16 + j] = w[r * k + c];
    }
  return packed;
}

template <class Spec>
void check_emulated_gemm(int m) {
  using Gemm = emulation::fp8jit::MfmaCdna3Gemm<Spec>;
  using namespace emulation::fp8jit;
  constexpr long N = Spec::n, K = Spec::k;
  constexpr bool kBf16 = std::is_same_v<typename Spec::out_t, bf16_t>;
  std::mt19937 rng(1234 + m + N + K);
  const auto random_fp8 = [&] {
    std::uint8_t b;
    do b = static_cast<std::uint8_t>(rng());
    while ((b & 0x7f) == 0x7f);  // no NaN
    return b;
  };
  std::uniform_real_distribution<float> scale(0.5e-3f, 4e-3f), unit(-1.f, 1.f);
  std::vector<std::uint8_t> a(static_cast<std::size_t>(m) * K), w(N * K);
  std::generate(a.begin(), a.end(), random_fp8);
  std::generate(w.begin(), w.end(), random_fp8);
  std::vector<float> sa(m), sw(N);
  std::generate(sa.begin(), sa.end(), [&] { return scale(rng); });
  std::generate(sw.begin(), sw.end(), [&] { return scale(rng); });
  std::vector<std::uint16_t> bias(N), out(static_cast<std::size_t>(m) * N, 0xffff);  // NaN poison
  for (auto& b : bias) b = to_out_bits<typename Spec::out_t>(unit(rng) * 4);
  const std::vector<std::uint8_t> packed = pack_aiter16x16(w, N, K);

  Machine machine;
  machine.loads[0] = {a.data(), a.size()};
  machine.loads[1] = {packed.data(), packed.size()};
  machine.store = {reinterpret_cast<const u8*>(out.data()), out.size() * 2};
  const unsigned grid_x = (N + Spec::bn - 1) / Spec::bn, grid_y = (m + Spec::bm - 1) / Spec::bm;
  for (unsigned by = 0; by < grid_y; ++by)
    for (unsigned bx = 0; bx < grid_x; ++bx) {
      std::vector<std::unique_ptr<Wave>> waves;
      for (int i = 0; i < Spec::warps; ++i) waves.push_back(std::make_unique<Wave>());
      std::vector<std::thread> lanes;
      for (u32 t = 0; t < static_cast<u32>(Gemm::kThreads); ++t)
        lanes.emplace_back([&, t] {
          lane_state = {t, bx, by, waves[t / 64].get(), &machine};
          Gemm::run(a.data(), sa.data(), packed.data(), sw.data(),
                    Spec::has_bias ? bias.data() : nullptr, out.data(), m);
        });
      for (auto& l : lanes) l.join();
    }
  INFO("N=" << N << " K=" << K << " bm=" << Spec::bm << " bn=" << Spec::bn << " bk=" << Spec::bk
            << " warps=" << Spec::warps << " stages=" << Spec::stages << " bias=" << Spec::has_bias
            << " out=" << (kBf16 ? "bf16" : "fp16") << " M=" << m);
  REQUIRE(machine.fault.empty());
  int bad = 0;
  for (int r = 0; r < m; ++r)
    for (long c = 0; c < N; ++c) {
      double dot = 0, mag = 0;
      for (long k = 0; k < K; ++k) {
        const double p = double(e4m3fn_to_float(a[r * K + k])) * e4m3fn_to_float(w[c * K + k]);
        dot += p;
        mag += std::fabs(p);
      }
      const double scale_rc = double(sa[r]) * sw[c];
      const double ref =
          scale_rc * dot + (Spec::has_bias ? from_out_bits<typename Spec::out_t>(bias[c]) : 0.0);
      const double got = from_out_bits<typename Spec::out_t>(out[r * N + c]);
      const double tol =
          std::fabs(ref) * (kBf16 ? 1.0 / 128 : 1.0 / 512) + scale_rc * mag * 1e-6 + 1e-6;
      if (!(std::fabs(got - ref) <= tol) && bad++ < 5)
        FAIL_CHECK("out[" << r << ", " << c << "] = " << got << ", expected " << ref);
    }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("gemm_cdna3 computes the scaled GEMM on an emulated wave, tails included",
          "[amd][emulation]") {
  using emulation::fp8jit::bf16_t;
  using emulation::fp8jit::fp16_t;
  // N % bn != 0 (a partial block), K = 5.5 chunks of 64 (two steps of 128, one leftover chunk,
  // one half chunk), M tail, two stages, bias.
  check_emulated_gemm<EmuSpec<80, 352, 16, 64, 128, 4, 2, true, bf16_t>>(37);
  check_emulated_gemm<EmuSpec<80, 352, 16, 64, 128, 4, 2, true, bf16_t>>(1);
  // Two fragments per wave with the second missing in the last block; one stage; fp16; K % 64 = 32.
  check_emulated_gemm<EmuSpec<48, 160, 32, 32, 64, 1, 1, false, fp16_t>>(37);
  // Four fragments of each kind; K exactly one step; the second wave of the block has no rows.
  check_emulated_gemm<EmuSpec<64, 256, 64, 128, 256, 2, 2, true, bf16_t>>(70);
}
