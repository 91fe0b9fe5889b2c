// The emulation preludes themselves, through small probe kernels built and run like any emulated
// kernel: fp8 / bf16 / fp16 conversions against the host encodings (compiler/fp8_format), each
// matrix atom against its operand and result layout transcribed here independently from the
// vendor documents (bit for bit: the atoms sum exactly and round once), an atom with two lanes
// swapped caught by the same comparison, and the scheduler's semantics: barriers, shared memory
// per block, faults (out of bounds, misaligned, a collective some lane never reaches, a
// first_lane of a non-uniform value).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "compiler/fp8_format.hpp"
#include "compiler/templates.hpp"
#include "tests/emu/emu_support.hpp"
#include "fp8jit/error.hpp"
#include "runtime/driver.hpp"

namespace {

using namespace fp8jit;
using compiler::Target;

// A probe kernel `name` (source after the target's emulation prelude) loaded on its own driver.
struct Probe {
  std::unique_ptr<runtime::Driver> driver;
  runtime::Module module;
  void* fn = nullptr;

  void* alloc(std::size_t bytes) { return driver->alloc(bytes); }
  void launch(unsigned blocks, unsigned threads, std::vector<void*> args) {
    runtime::LaunchDims d;
    d.grid[0] = blocks;
    d.block[0] = threads;
    driver->launch(fn, d, nullptr, args.data());
  }
};

std::unique_ptr<Probe> build_probe(const std::string& target, const std::string& body,
                                   const std::string& name, const std::string& before = "",
                                   unsigned threads = 1) {
  auto tc = test::emu_toolchain_or_skip();
  if (!tc) return nullptr;
  const Target t = Target::parse(target);
  compiler::CompileRequest req;
  req.source = before + compiler::expand_template(t.vendor == compiler::Vendor::amd
                                                      ? "prelude_emu_amd.hpp"
                                                      : "prelude_emu_nvidia.hpp") +
               body + "\nFP8JIT_EMU_ENTRY(" + name + ")\n";
  req.kernel_name = name;
  req.target = t;
  req.spec = "test probe";
  auto p = std::make_unique<Probe>();
  const compiler::Binary bin = tc->compile(req);
  p->driver = runtime::make_emu_driver(target, threads);
  p->module = p->driver->load(bin.bytes);
  p->fn = p->driver->function(p->module, name);
  return p;
}

template <class T>
T* dev(Probe& p, const std::vector<T>& host) {
  auto* d = static_cast<T*>(p.alloc(host.size() * sizeof(T)));
  std::memcpy(d, host.data(), host.size() * sizeof(T));
  return d;
}

std::uint8_t random_finite_fp8(std::mt19937_64& rng, Fp8Format f) {
  for (;;) {
    const auto b = static_cast<std::uint8_t>(rng());
    if (compiler::fp8_is_finite(f, b)) return b;
  }
}

std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// ---- conversions ---------------------------------------------------------------------------

const char* kConversionProbe = R"(
FP8JIT_KERNEL void probe_convert(const float* in, int n, float* dec, fp8jit::u8* enc,
                                 fp8jit::u16* bf16, fp8jit::u16* fp16) {
  using namespace fp8jit;
  const int t = int(thread_x());
  if (t < 256) {
    dec[t] = emu::fp8_to_float(u8(t), false);
    dec[256 + t] = emu::fp8_to_float(u8(t), true);
  }
  for (int i = t; i < n; i += int(block_dim_x())) {
    enc[i] = emu::float_to_fp8_sat(in[i], false);
    enc[n + i] = emu::float_to_fp8_sat(in[i], true);
    bf16[i] = to_out_bits<bf16_t>(in[i]);
    fp16[i] = to_out_bits<fp16_t>(in[i]);
  }
}
)";

std::vector<float> conversion_inputs(std::mt19937_64& rng) {
  std::vector<float> in;
  for (const Fp8Format f : {Fp8Format::e4m3fn, Fp8Format::e4m3fnuz}) {
    std::vector<double> pos;
    for (int b = 0; b < 128; ++b)
      if (compiler::fp8_is_finite(f, b)) pos.push_back(compiler::fp8_to_double(f, b));
    std::sort(pos.begin(), pos.end());
    for (std::size_t i = 0; i < pos.size(); ++i) {
      for (const double s : {1.0, -1.0}) in.push_back(float(s * pos[i]));
      if (i + 1 < pos.size()) {  // the tie between neighbours, and just either side of it
        const float mid = float((pos[i] + pos[i + 1]) / 2);
        for (const float x : {mid, std::nextafter(mid, 0.f), std::nextafter(mid, 1e9f)})
          for (const float s : {1.f, -1.f}) in.push_back(s * x);
      }
    }
  }
  const float inf = std::numeric_limits<float>::infinity();
  for (const float x : {449.f, 463.9f, 464.f, 479.9f, 480.f, 500.f, 241.f, 247.f, 248.f, 1e10f,
                        std::numeric_limits<float>::max(), inf, 0.f, 1e-45f, 1e-38f,
                        0x1p-10f, 0x1p-11f, 0x1p-12f, 3 * 0x1p-11f, 65504.f, 65519.f, 65520.f,
                        0x1p-24f, 0x1p-25f, 3 * 0x1p-26f})
    for (const float s : {1.f, -1.f}) in.push_back(s * x);
  std::uniform_real_distribution<float> exponent(-30.f, 20.f);
  for (int i = 0; i < 4000; ++i) in.push_back((rng() & 1 ? 1.f : -1.f) * std::exp2(exponent(rng)));
  return in;
}

}  // namespace

TEST_CASE("emu: fp8 conversions follow e4m3fn and e4m3fnuz exactly, with saturation", "[emu]") {
  auto probe = build_probe("emu-gfx942", kConversionProbe, "probe_convert");
  if (!probe) return;
  auto rng = test::seeded_rng("conversions");
  std::vector<float> in = conversion_inputs(rng);
  in.push_back(std::numeric_limits<float>::quiet_NaN());
  in.push_back(-std::numeric_limits<float>::quiet_NaN());
  int n = static_cast<int>(in.size());
  float* d_in = dev(*probe, in);
  auto* dec = static_cast<float*>(probe->alloc(512 * 4));
  auto* enc = static_cast<std::uint8_t*>(probe->alloc(2 * n));
  auto* bf16 = static_cast<std::uint16_t*>(probe->alloc(2 * n));
  auto* fp16 = static_cast<std::uint16_t*>(probe->alloc(2 * n));
  probe->launch(1, 256, {&d_in, &n, &dec, &enc, &bf16, &fp16});

  // Decoding: every code of both formats, NaNs where the formats have them.
  for (int f = 0; f < 2; ++f) {
    const Fp8Format fmt = f ? Fp8Format::e4m3fnuz : Fp8Format::e4m3fn;
    for (int b = 0; b < 256; ++b) {
      const double want = compiler::fp8_to_double(fmt, b);
      INFO(to_string(fmt) << " code " << b);
      if (std::isnan(want))
        CHECK(std::isnan(dec[256 * f + b]));
      else
        CHECK(dec[256 * f + b] == want);
    }
  }
  // The format facts the kernels rely on.
  CHECK(dec[0x08] == 0x1p-6f);        // e4m3fn: bias 7, smallest normal 2^-6
  CHECK(dec[256 + 0x08] == 0x1p-7f);  // e4m3fnuz: bias 8, smallest normal 2^-7
  CHECK(dec[0x7e] == 448.f);
  CHECK(std::isnan(dec[0x7f]));
  CHECK(dec[256 + 0x7f] == 240.f);
  CHECK(dec[256 + 0xff] == -240.f);
  CHECK(std::isnan(dec[256 + 0x80]));  // fnuz: the single NaN, no negative zero
  CHECK((dec[0x80] == 0.f && std::signbit(dec[0x80])));  // fn: -0
  CHECK(dec[0x01] == 0x1p-9f);
  CHECK(dec[256 + 0x01] == 0x1p-10f);

  // Encoding: nearest, ties to even, saturating (infinities too), NaN to NaN.
  int bad = 0;
  for (int i = 0; i < n; ++i)
    for (int f = 0; f < 2; ++f) {
      const Fp8Format fmt = f ? Fp8Format::e4m3fnuz : Fp8Format::e4m3fn;
      const std::uint8_t got = enc[f * n + i];
      std::uint8_t want = compiler::double_to_fp8(fmt, in[i]);
      if (!f && want == 0 && std::signbit(in[i])) want = 0x80;  // e4m3fn keeps the sign of zero
      if (got != want && bad++ < 10)
        FAIL_CHECK(to_string(fmt) << " encode " << in[i] << ": got 0x" << std::hex << int(got)
                                  << ", want 0x" << int(want));
    }
  CHECK(bad == 0);
  const auto find = [&](float x) { return std::find(in.begin(), in.end(), x) - in.begin(); };
  CHECK(enc[find(1e10f)] == 0x7e);                          // saturates to 448
  CHECK(enc[find(std::numeric_limits<float>::infinity())] == 0x7e);
  CHECK(enc[n + find(-std::numeric_limits<float>::infinity())] == 0xff);  // fnuz -240
  CHECK(enc[n + find(480.f)] == 0x7f);                      // fnuz 240
  CHECK(enc[find(464.f)] == 0x7e);                          // rounds past 448: saturated, not NaN
  CHECK(enc[n - 2] == 0x7f);                                // fn NaN
  CHECK(enc[n - 1] == 0x7f);                                // -NaN too: the canonical NaN
  CHECK(enc[2 * n - 1] == 0x80);                            // fnuz NaN

  // bf16 / fp16, round to nearest even: as the host's conversions, NaN apart.
  int bad16 = 0;
  for (int i = 0; i < n; ++i) {
    if (std::isnan(in[i])) {
      CHECK(std::isnan(compiler::bf16_to_float(bf16[i])));
      CHECK(std::isnan(compiler::fp16_to_float(fp16[i])));
      continue;
    }
    if ((bf16[i] != compiler::float_to_bf16(in[i]) || fp16[i] != compiler::float_to_fp16(in[i])) &&
        bad16++ < 10)
      FAIL_CHECK("16-bit conversion of " << in[i] << " (0x" << std::hex << float_bits(in[i])
                                         << "): bf16 0x" << bf16[i] << ", fp16 0x" << fp16[i]);
  }
  CHECK(bad16 == 0);
}

// ---- matrix atoms --------------------------------------------------------------------------

namespace {

// One MFMA / mma per lane: operands and accumulator read per lane, result written per lane.
const char* kMfma32Probe = R"(
FP8JIT_KERNEL void probe_mfma32(const fp8jit::u64* a, const fp8jit::u64* b, const float* c, float* d) {
  using namespace fp8jit;
  const u32 l = thread_x();
  v4f acc = {c[4 * l], c[4 * l + 1], c[4 * l + 2], c[4 * l + 3]};
  acc = mfma_16x16x32_fp8(a[l], b[l], acc);
  for (int i = 0; i < 4; ++i) d[4 * l + i] = acc[i];
}
)";
const char* kMfma128Probe = R"(
FP8JIT_KERNEL void probe_mfma128(const int* a, const int* b, const float* c, float* d) {
  using namespace fp8jit;
  const u32 l = thread_x();
  i32x8 va, vb;
  for (int i = 0; i < 8; ++i) { va[i] = a[8 * l + i]; vb[i] = b[8 * l + i]; }
  v4f acc = {c[4 * l], c[4 * l + 1], c[4 * l + 2], c[4 * l + 3]};
  acc = mfma_16x16x128_fp8(va, vb, acc);
  for (int i = 0; i < 4; ++i) d[4 * l + i] = acc[i];
}
)";
const char* kMmaProbe = R"(
FP8JIT_KERNEL void probe_mma(const fp8jit::u32* a, const fp8jit::u32* b, const float* c, float* d) {
  using namespace fp8jit;
  const u32 l = thread_x();
  float acc[4] = {c[4 * l], c[4 * l + 1], c[4 * l + 2], c[4 * l + 3]};
  const u32x4 frag = {a[4 * l], a[4 * l + 1], a[4 * l + 2], a[4 * l + 3]};
  mma_m16n8k32_e4m3(acc, frag, b[2 * l], b[2 * l + 1]);
  for (int i = 0; i < 4; ++i) d[4 * l + i] = acc[i];
}
)";

// A (rows x K) times B (K x cols) plus C, every product exact, summed exactly, rounded once.
struct AtomCase {
  int rows, cols, k;
  Fp8Format fmt;
  std::vector<std::uint8_t> a, b;  // row-major A[rows][k], B[k][cols]
  std::vector<float> c;            // C[rows][cols]
  float want(int r, int col) const {
    double s = 0;
    for (int i = 0; i < k; ++i)
      s += compiler::fp8_to_double(fmt, a[r * k + i]) * compiler::fp8_to_double(fmt, b[i * cols + col]);
    return static_cast<float>(double(c[r * cols + col]) + s);
  }
};

AtomCase random_atom(int rows, int cols, int k, Fp8Format fmt, std::mt19937_64& rng) {
  AtomCase t{rows, cols, k, fmt, std::vector<std::uint8_t>(rows * k), std::vector<std::uint8_t>(k * cols),
             std::vector<float>(rows * cols)};
  for (auto& x : t.a) x = random_finite_fp8(rng, fmt);
  for (auto& x : t.b) x = random_finite_fp8(rng, fmt);
  std::normal_distribution<float> normal(0.f, 100.f);
  for (auto& x : t.c) x = normal(rng);
  return t;
}

// Runs an MFMA probe (16x16 output over `kBytes` * 4 k) per the CDNA3/CDNA4 layout: lane l holds
// A[l % 16][kBytes * (l / 16) + j] and B[kBytes * (l / 16) + j][l % 16] as byte j of its
// operand, and D[4 * (l / 16) + i][l % 16] as acc[i]. Returns the number of wrong elements.
int run_mfma(Probe& p, int kBytes, const AtomCase& t) {
  std::vector<std::uint8_t> a(64 * kBytes), b(64 * kBytes);
  std::vector<float> c(256), d(256);
  for (int l = 0; l < 64; ++l) {
    for (int j = 0; j < kBytes; ++j) {
      const int k = kBytes * (l / 16) + j;
      a[l * kBytes + j] = t.a[(l % 16) * t.k + k];
      b[l * kBytes + j] = t.b[k * 16 + l % 16];
    }
    for (int i = 0; i < 4; ++i) c[4 * l + i] = t.c[(4 * (l / 16) + i) * 16 + l % 16];
  }
  auto* da = dev(p, a);
  auto* db = dev(p, b);
  auto* dc = dev(p, c);
  auto* dd = static_cast<float*>(p.alloc(256 * 4));
  p.launch(1, 64, {&da, &db, &dc, &dd});
  int bad = 0;
  for (int l = 0; l < 64; ++l)
    for (int i = 0; i < 4; ++i)
      bad += float_bits(dd[4 * l + i]) != float_bits(t.want(4 * (l / 16) + i, l % 16));
  return bad;
}

// Runs the mma.sync probe per the PTX ISA tables for m16n8k32 (8-bit types), written here from the
// element's side (docs/layouts.md): A(i, j) is byte j % 4 of register (i / 8) + 2 (j / 16) of lane
// 4 (i % 8) + (j % 16) / 4; B(k, n) is byte k % 4 of register k / 16 of lane 4 n + (k % 16) / 4;
// D(i, n) is c[2 (i / 8) + n % 2] of lane 4 (i % 8) + n / 2.
int run_mma(Probe& p, const AtomCase& t) {
  std::vector<std::uint8_t> a(32 * 16), b(32 * 8);
  std::vector<float> c(128);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 32; ++j)
      a[(4 * (i % 8) + (j % 16) / 4) * 16 + ((i / 8) + 2 * (j / 16)) * 4 + j % 4] = t.a[i * 32 + j];
  for (int k = 0; k < 32; ++k)
    for (int n = 0; n < 8; ++n) b[(4 * n + (k % 16) / 4) * 8 + (k / 16) * 4 + k % 4] = t.b[k * 8 + n];
  for (int i = 0; i < 16; ++i)
    for (int n = 0; n < 8; ++n) c[(4 * (i % 8) + n / 2) * 4 + 2 * (i / 8) + n % 2] = t.c[i * 8 + n];
  auto* da = dev(p, a);
  auto* db = dev(p, b);
  auto* dc = dev(p, c);
  auto* dd = static_cast<float*>(p.alloc(128 * 4));
  p.launch(1, 32, {&da, &db, &dc, &dd});
  int bad = 0;
  for (int i = 0; i < 16; ++i)
    for (int n = 0; n < 8; ++n)
      bad += float_bits(dd[(4 * (i % 8) + n / 2) * 4 + 2 * (i / 8) + n % 2]) != float_bits(t.want(i, n));
  return bad;
}

// Swaps the deposits of lanes 0 and 1 inside every emulated atom.
const char* kSwapLanes = "#define FP8JIT_EMU_OPERAND_LANE(l) ((l) < 2 ? 1 - (l) : (l))\n";

}  // namespace

TEST_CASE("emu: MFMA 16x16x32 fp8 follows the CDNA3 layout, e4m3fnuz on gfx942, e4m3fn on gfx950",
          "[emu]") {
  auto rng = test::seeded_rng("mfma 16x16x32");
  for (const char* target : {"emu-gfx942", "emu-gfx950"}) {
    auto p = build_probe(target, kMfma32Probe, "probe_mfma32");
    if (!p) return;
    const Fp8Format fmt = Target::parse(target).fp8_format();
    for (int rep = 0; rep < 3; ++rep) {
      INFO(target << " case " << rep);
      CHECK(run_mfma(*p, 8, random_atom(16, 16, 32, fmt, rng)) == 0);
    }
    // The other format's reading of the same bytes is wrong: the format really is per arch.
    const Fp8Format other = fmt == Fp8Format::e4m3fn ? Fp8Format::e4m3fnuz : Fp8Format::e4m3fn;
    AtomCase t = random_atom(16, 16, 32, fmt, rng);
    for (auto& x : t.a) x &= 0x77;  // finite in both formats
    for (auto& x : t.b) x &= 0x77;
    t.fmt = other;
    CHECK(run_mfma(*p, 8, t) > 0);
    // Two lanes swapped inside the atom: caught.
    auto mutated = build_probe(target, kMfma32Probe, "probe_mfma32", kSwapLanes);
    const int bad = run_mfma(*mutated, 8, random_atom(16, 16, 32, fmt, rng));
    std::printf("emu-mutation %s MFMA 16x16x32 with lanes 0 and 1 swapped: %d of 256 elements wrong -> %s\n",
                target, bad, bad ? "caught" : "MISSED");
    CHECK(bad > 0);
  }
}

TEST_CASE("emu: MFMA 16x16x128 f8f6f4 with e4m3fn operands follows the CDNA4 layout", "[emu]") {
  auto p = build_probe("emu-gfx950", kMfma128Probe, "probe_mfma128");
  if (!p) return;
  auto rng = test::seeded_rng("mfma 16x16x128");
  for (int rep = 0; rep < 3; ++rep) CHECK(run_mfma(*p, 32, random_atom(16, 16, 128, Fp8Format::e4m3fn, rng)) == 0);
}

TEST_CASE("emu: mma.sync m16n8k32 e4m3 follows the PTX fragment layout", "[emu]") {
  auto p = build_probe("emu-sm89", kMmaProbe, "probe_mma");
  if (!p) return;
  auto rng = test::seeded_rng("mma m16n8k32");
  for (int rep = 0; rep < 3; ++rep) CHECK(run_mma(*p, random_atom(16, 8, 32, Fp8Format::e4m3fn, rng)) == 0);
  auto mutated = build_probe("emu-sm89", kMmaProbe, "probe_mma", kSwapLanes);
  const int bad = run_mma(*mutated, random_atom(16, 8, 32, Fp8Format::e4m3fn, rng));
  std::printf("emu-mutation emu-sm89 mma.sync m16n8k32 with lanes 0 and 1 swapped: %d of 128 elements wrong -> %s\n",
              bad, bad ? "caught" : "MISSED");
  CHECK(bad > 0);
}

// ---- the scheduler -----------------------------------------------------------------------------

TEST_CASE("emu: barriers, shared memory per block and exited threads", "[emu]") {
  // Thread 0 of every block exits at once; the others meet at two barriers (an exited thread no
  // longer counts) and read what the others wrote to shared memory.
  auto p = build_probe("emu-sm89", R"(
FP8JIT_KERNEL void probe_shared(fp8jit::u32* out) {
  using namespace fp8jit;
  FP8JIT_SHARED u32 s[128];
  const u32 t = thread_x(), b = block_x();
  if (t == 0) return;
  s[t] = b * 1000 + t;
  barrier();
  const u32 v = s[128 - t];
  barrier();
  s[t] = v + 1;
  barrier();
  out[b * 128 + t] = s[t];
}
)", "probe_shared", "", 2);
  if (!p) return;
  auto* out = static_cast<std::uint32_t*>(p->alloc(16 * 128 * 4));
  std::memset(out, 0, 16 * 128 * 4);
  p->launch(16, 128, {&out});
  int bad = 0;
  for (unsigned b = 0; b < 16; ++b)
    for (unsigned t = 1; t < 128; ++t) bad += out[b * 128 + t] != b * 1000 + (128 - t) + 1;
  CHECK(bad == 0);
}

TEST_CASE("emu: out-of-bounds and misaligned accesses, deadlocks and non-uniform first_lane are "
          "reported as faults", "[emu]") {
  auto nv = build_probe("emu-sm89", R"(
FP8JIT_KERNEL void probe_faults(const unsigned char* p, int mode, fp8jit::u32* out) {
  using namespace fp8jit;
  const u32 t = thread_x();
  // Block of 64: threads 32..63 read 1 TiB past the 512-byte buffer, where no allocation lies (just
  // past it, the next 256-byte-aligned allocation may).
  if (mode == 0) out[t] = load16(p + 16 * t + (t >= 32 ? (1ull << 40) : 0)).x;
  if (mode == 1) out[t] = load16(p + 4).x;                // misaligned 16-byte load
  if (mode == 2) {                                        // lane 5 leaves before the collective
    if (t == 5) return;
    float c[4] = {0, 0, 0, 0};
    mma_m16n8k32_e4m3(c, u32x4{0, 0, 0, 0}, 0, 0);
  }
  if (mode == 3) out[t] = load4(p + 4 * t);               // fine
}
)", "probe_faults");
  if (!nv) return;
  auto* buf = static_cast<unsigned char*>(nv->alloc(512));
  auto* out = static_cast<std::uint32_t*>(nv->alloc(64 * 4));
  int mode = 0;
  CHECK_THROWS_WITH(nv->launch(1, 64, {&buf, &mode, &out}),
                    Catch::Contains("thread 32: load16 of 16 bytes") &&
                        Catch::Contains("outside every allocation") &&
                        Catch::Contains("(32 faults in all)"));
  mode = 1;
  CHECK_THROWS_WITH(nv->launch(1, 32, {&buf, &mode, &out}), Catch::Contains("not 16-byte aligned"));
  mode = 2;
  CHECK_THROWS_WITH(nv->launch(1, 32, {&buf, &mode, &out}),
                    Catch::Contains("deadlock: 31 thread(s) wait at a warp/wave collective") &&
                        Catch::Contains("1 exited"));
  mode = 3;
  CHECK_NOTHROW(nv->launch(2, 64, {&buf, &mode, &out}));

  auto amd = build_probe("emu-gfx942", R"(
FP8JIT_KERNEL void probe_first_lane(fp8jit::u32* out) {
  out[fp8jit::thread_x()] = fp8jit::first_lane(fp8jit::thread_x() / 64 + (fp8jit::thread_x() == 70));
}
)", "probe_first_lane");
  auto* out2 = static_cast<std::uint32_t*>(amd->alloc(128 * 4));
  CHECK_THROWS_WITH(amd->launch(1, 128, {&out2}),
                    Catch::Contains("first_lane: the value differs between the lanes of a wave"));
  // Bad launches are refused before anything runs.
  runtime::LaunchDims d;
  d.block[0] = 32;
  d.block[1] = 2;
  void* args[] = {&out2};
  CHECK_THROWS_WITH(amd->driver->launch(amd->fn, d, nullptr, args), Catch::Contains("1-D blocks"));
  CHECK_THROWS_AS(runtime::make_emu_driver("sm_90a"), InvalidArgument);
  CHECK_THROWS_WITH(runtime::make_emu_driver("emu-sm90a"), Catch::Contains("emulation targets: emu-gfx942"));
}
