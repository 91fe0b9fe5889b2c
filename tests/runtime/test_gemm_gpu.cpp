// GPU correctness of the GEMM families and the preshuffle kernels: fresh random data, outputs
// poisoned before each run, every element compared with a float64 reference.
#include <catch2/catch.hpp>
#include <cstdio>
#include <random>

#include "compiler/fp8_format.hpp"
#include "compiler/layouts.hpp"
#include "fp8jit/fp8jit.hpp"
#include "runtime/context_state.hpp"
#include "runtime/tuning_bench.hpp"
#include "tests/support/gpu.hpp"
#include "tests/support/gpu_session.hpp"
#include "tests/support/gpu_reference.hpp"
#include "tests/support/temp_dir.hpp"
#include "tools/gemm_check.hpp"
#include "tools/models.hpp"

namespace {

using namespace fp8jit;
constexpr std::uint16_t kPoison = 0xffff;

using Device = test::GpuSession;

// Uploads a problem; packs its weight; checks every M of `ms` against the reference.
struct Case {
  tools::GemmProblem p;
  DeviceBuffer a, w, sa, sw, bias, bias64, out, ref;
};

double bias_value(const tools::GemmProblem& p, std::size_t i) {
  return p.out == OutDType::bf16 ? compiler::bf16_to_float(p.b[i]) : compiler::fp16_to_float(p.b[i]);
}

void check_shape(Device& d, Context& ctx, const std::string& name, std::int64_t n, std::int64_t k,
                 const std::vector<std::int64_t>& ms, OutDType out, bool bias, std::mt19937_64& rng,
                 bool use_plan = true) {
  const auto fmt = compiler::Target::parse(ctx.target()).fp8_format();
  const std::int64_t max_m = *std::max_element(ms.begin(), ms.end());
  Case c{tools::make_problem(max_m, n, k, fmt, out, bias, rng)};
  const auto& p = c.p;
  c.a = ctx.alloc(p.a.size());
  c.w = ctx.alloc(p.w.size());
  c.sa = ctx.alloc(p.sa.size() * 4);
  c.sw = ctx.alloc(p.sw.size() * 4);
  c.out = ctx.alloc(max_m * n * 2);
  c.ref = ctx.alloc(max_m * n * 8);
  ctx.copy_to_device(c.a.get(), p.a.data(), p.a.size());
  ctx.copy_to_device(c.w.get(), p.w.data(), p.w.size());
  ctx.copy_to_device(c.sa.get(), p.sa.data(), p.sa.size() * 4);
  ctx.copy_to_device(c.sw.get(), p.sw.data(), p.sw.size() * 4);
  if (bias) {
    std::vector<double> b64(n);
    for (std::int64_t i = 0; i < n; ++i) b64[i] = bias_value(p, i);
    c.bias = ctx.alloc(n * 2);
    c.bias64 = ctx.alloc(n * 8);
    ctx.copy_to_device(c.bias.get(), p.b.data(), n * 2);
    ctx.copy_to_device(c.bias64.get(), b64.data(), n * 8);
  }
  const PackedWeight packed = ctx.pack_weight(c.w.get(), static_cast<const float*>(c.sw.get()), n, k);
  const Plan plan = ctx.plan(packed, out, bias);
  for (const std::int64_t m : ms) {
    std::vector<std::uint16_t> poison(m * n, kPoison);
    ctx.copy_to_device(c.out.get(), poison.data(), poison.size() * 2);
    GemmArgs g;
    g.a = c.a.get();
    g.sa = static_cast<const float*>(c.sa.get());
    g.w = &packed;
    g.bias = bias ? c.bias.get() : nullptr;
    g.out = c.out.get();
    g.m = m;
    g.out_dtype = out;
    // A plan resolves one kernel per M bucket; Context::gemm selects per call, by the exact M.
    use_plan ? plan.gemm(g) : ctx.gemm(g);
    d.ref->gemm(c.a.get(), c.w.get(), fmt, g.sa, static_cast<const float*>(c.sw.get()),
                bias ? static_cast<const double*>(c.bias64.get()) : nullptr,
                static_cast<double*>(c.ref.get()), m, n, k);
    ctx.synchronize();
    const auto e = d.ref->compare(c.out.get(), out, static_cast<const double*>(c.ref.get()), m * n, kPoison);
    std::printf("gemm-check %-22s M=%-5lld N=%-6lld K=%-6lld out=%s bias=%d rel_err=%.3e unwritten=%llu %s\n",
                name.c_str(), (long long)m, (long long)n, (long long)k, std::string(to_string(out)).c_str(),
                int(bias), e.relative, (unsigned long long)e.unwritten,
                (e.relative <= 1e-2 && e.unwritten == 0) ? "ok" : "FAIL");
    INFO(name << " M=" << m << " N=" << n << " K=" << k << " out=" << to_string(out) << " bias=" << bias);
    CHECK(e.unwritten == 0);
    CHECK(e.relative <= 1e-2);
    CHECK(e.relative > 0);  // bf16/fp16 rounding always leaves a trace: 0 means nothing was compared
  }
}

const std::vector<std::int64_t> kMs = {1, 2, 7, 16, 37, 64, 129, 1000, 4096};

}  // namespace

TEST_CASE("gpu: the GPU float64 reference agrees with the host reference", "[gpu]") {
  auto d = test::open_gpu_session();
  if (!d) return;
  std::mt19937_64 rng(std::random_device{}());
  const auto fmt = compiler::Target::parse(d->ctx->target()).fp8_format();
  auto p = tools::make_problem(37, 48, 96, fmt, OutDType::bf16, false, rng);
  Context& ctx = *d->ctx;
  auto a = ctx.alloc(p.a.size()), w = ctx.alloc(p.w.size()), sa = ctx.alloc(37 * 4),
       sw = ctx.alloc(48 * 4), ref = ctx.alloc(37 * 48 * 8);
  ctx.copy_to_device(a.get(), p.a.data(), p.a.size());
  ctx.copy_to_device(w.get(), p.w.data(), p.w.size());
  ctx.copy_to_device(sa.get(), p.sa.data(), 37 * 4);
  ctx.copy_to_device(sw.get(), p.sw.data(), 48 * 4);
  d->ref->gemm(a.get(), w.get(), fmt, static_cast<const float*>(sa.get()),
               static_cast<const float*>(sw.get()), nullptr, static_cast<double*>(ref.get()), 37, 48, 96);
  ctx.synchronize();
  std::vector<double> got(37 * 48);
  ctx.copy_to_host(got.data(), ref.get(), got.size() * 8);
  std::vector<std::int64_t> rows(37);
  for (int i = 0; i < 37; ++i) rows[i] = i;
  const auto want = tools::reference_rows(p, rows);
  for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i] == Approx(want[i]).epsilon(1e-12));
}

TEST_CASE("gpu: device preshuffle equals the host layout, byte for byte", "[gpu]") {
  auto d = test::open_gpu_session();
  if (!d) return;
  Context& ctx = *d->ctx;
  const auto target = compiler::Target::parse(ctx.target());
  const auto layout = compiler::native_layout(target);
  std::mt19937_64 rng(std::random_device{}());
  for (auto [n, k] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {16, 32}, {48, 96}, {4096, 4096}, {272, 1056}, {16, 16}, {48, 48}, {1040, 4112}}) {
    const std::size_t size = compiler::packed_bytes(n, k);  // K % 32 == 16: 16 zero columns more
    std::vector<std::uint8_t> w(n * k), want(size), got(size);
    for (auto& b : w) b = static_cast<std::uint8_t>(rng());
    compiler::pack_host(layout, w.data(), want.data(), n, k);
    auto dw = ctx.alloc(w.size()), sw = ctx.alloc(n * 4);
    ctx.copy_to_device(dw.get(), w.data(), w.size());
    const PackedWeight packed = ctx.pack_weight(dw.get(), static_cast<const float*>(sw.get()), n, k);
    ctx.synchronize();
    ctx.copy_to_host(got.data(), packed.data(), got.size());
    INFO("N=" << n << " K=" << k);
    CHECK(got == want);
  }
}

TEST_CASE("gpu: GEMM on the shapes of shapes.csv at every M", "[gpu][slow]") {
  auto d = test::open_gpu_session();
  if (!d) return;
  std::mt19937_64 rng(std::random_device{}());
  for (const auto& s : tools::model_shapes("all")) check_shape(*d, *d->ctx, s.name, s.n, s.k, kMs, OutDType::bf16, true, rng);
  // The other epilogues on one shape of each model.
  check_shape(*d, *d->ctx, "llama3-8b.o", 4096, 4096, kMs, OutDType::fp16, false, rng);
  check_shape(*d, *d->ctx, "llama3-70b.down", 8192, 28672, {1, 37, 1000}, OutDType::bf16, false, rng);
}

TEST_CASE("gpu: GEMM on small odd shapes with every epilogue", "[gpu]") {
  auto d = test::open_gpu_session();
  if (!d) return;
  std::mt19937_64 rng(std::random_device{}());
  // N not a multiple of any bn, K not a multiple of any bk: the tails of both.
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {16, 32}, {48, 96}, {80, 160}, {272, 1056}, {1040, 4128}};
  for (auto [n, k] : shapes)
    for (const OutDType out : {OutDType::bf16, OutDType::fp16})
      for (const bool bias : {false, true})
        check_shape(*d, *d->ctx, "odd", n, k, kMs, out, bias, rng);
}

TEST_CASE("gpu: GEMM with K a multiple of 16 (padded in the packed weight, A never padded)", "[gpu]") {
  auto d = test::open_gpu_session();
  if (!d) return;
  std::mt19937_64 rng(std::random_device{}());
  // K = 16, 48 (one partial block), 112, 2064, 4112 (whole steps, then a half block); N from one
  // 16-row block to 1040; the configs the plans choose; ragged M; every epilogue.
  const std::vector<std::pair<std::int64_t, std::int64_t>> shapes = {
      {16, 16}, {48, 48}, {1040, 112}, {48, 2064}, {16, 4112}, {1040, 4112}};
  for (auto [n, k] : shapes)
    for (const OutDType out : {OutDType::bf16, OutDType::fp16})
      for (const bool bias : {false, true})
        check_shape(*d, *d->ctx, "k16", n, k, kMs, out, bias, rng);
}

// Runs check_shape on (n, k) with each row's config forced through an exact tuned-table row for
// its M (every out dtype and bias), through Context::gemm (which selects by the exact M).
void check_forced_configs(Device& d, const std::string& name, std::int64_t n, std::int64_t k,
                          const std::vector<std::pair<std::int64_t, std::string>>& rows) {
  test::TempDir dir;
  const std::string table = dir.path() + "/forced.csv";
  {
    std::FILE* f = std::fopen(table.c_str(), "w");
    REQUIRE(f);
    std::fprintf(f, "arch,cu_num,M,N,K,q_dtype_w,out_dtype,bias,config,us,tflops,bw\n");
    for (const auto& [m, cfg] : rows)
      for (const char* out : {"bf16", "fp16"})
        for (const int bias : {0, 1})
          std::fprintf(f, "%s,%d,%lld,%lld,%lld,e4m3fn,%s,%d,%s,0,0,0\n", d.ctx->target().c_str(),
                       d.ctx->multiprocessors(), (long long)m, (long long)n, (long long)k, out,
                       bias, cfg.c_str());
    std::fclose(f);
  }
  Options o = Options::from_env();
  o.tuned_tables = {table};
  Context forced(o);
  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::int64_t> ms;
  for (const auto& r : rows) ms.push_back(r.first);
  for (const OutDType out : {OutDType::bf16, OutDType::fp16})
    for (const bool bias : {false, true}) check_shape(d, forced, name, n, k, ms, out, bias, rng, false);
}

TEST_CASE("gpu: GEMM with every kind of mma_sm89 config, forced through a tuned table", "[gpu]") {
  auto d = test::open_gpu_session();
  if (!d) return;
  if (compiler::Target::parse(d->ctx->target()).vendor != compiler::Vendor::nvidia) {
    std::printf("SKIPPED: mma_sm89 configs need an NVIDIA GPU; this one is %s\n", d->ctx->target().c_str());
    return;
  }
  // One exact row per M, each a different config: split-K inside the block (2, 4, 8 slices),
  // one and several warps along N, one and two stages, k-steps of 32..128, every token tile.
  // N % bn != 0 for bn > 16; K/32 = 129 k-blocks.
  const std::vector<std::pair<std::int64_t, std::string>> rows = {
      {1, "bm8_bn16_bk128_w1_s2_k8"},  {7, "bm8_bn32_bk64_w2_s1_k4"},
      {16, "bm16_bn32_bk64_w2_s2_k4"}, {37, "bm64_bn64_bk128_w2_s2_k2"},
      {64, "bm32_bn64_bk32_w4_s1_k2"}, {129, "bm64_bn128_bk64_w4_s2_k1"}};
  check_forced_configs(*d, "forced-config", 1040, 4128, rows);
  // K % 32 == 16: the last k-block's token bytes past K are not loaded.
  check_forced_configs(*d, "forced-config-k16", 1040, 4112, rows);
  check_forced_configs(*d, "forced-config-k16", 48, 48, rows);
}

// check_forced_configs of wgmma_sm90 rows on the shapes that reach every tail: K/32 = 129 (the
// last stage holds one k-block; with 8 split-K ranks the last has no k-tile at all) and
// N % bn != 0, then whole tiles only; then K % 32 == 16 (TMA reads A's columns past K as zeros,
// the packed weight's padding is zero) at N = 1040 and at N = 48, one 64-row slab. `name` and
// name-k16 label the checks. Skips, saying why, on a GPU that is not sm_90a.
void check_forced_wgmma(const std::string& name,
                        const std::vector<std::pair<std::int64_t, std::string>>& rows) {
  auto d = test::open_gpu_session();
  if (!d) return;
  if (d->ctx->target() != "sm_90a") {
    std::printf("SKIPPED: the wgmma_sm90 family needs an sm_90a GPU; this one is %s\n",
                d->ctx->target().c_str());
    return;
  }
  check_forced_configs(*d, name, 1040, 4128, rows);
  check_forced_configs(*d, name, 4096, 4096, rows);
  check_forced_configs(*d, name + "-k16", 1040, 4112, rows);
  check_forced_configs(*d, name + "-k16", 48, 48, rows);
}

TEST_CASE("gpu: GEMM with every kind of wgmma_sm90 config, forced through a tuned table", "[gpu]") {
  // One and two consumer warpgroups, one and two 64-row slabs each, token tiles 16..256, 2..8
  // stages; M not a multiple of bm, several raster groups (M = 4096 / bm = 16..256 token tiles);
  // K split over clusters of 2, 4 and 8 CTAs, also with setmaxnreg (M = 200: that config spills
  // 80 bytes, so neither the heuristic nor a tuned table picks it; the path must still be right).
  const std::vector<std::pair<std::int64_t, std::string>> rows = {
      {1, "wg_bm16_bn64_bk128_w4_s8_k1"},    {2, "wg_bm16_bn64_bk128_w4_s8_k2"},
      {16, "wg_bm16_bn128_bk128_w4_s2_k1"},  {23, "wg_bm32_bn128_bk128_w8_s6_k4"},
      {37, "wg_bm32_bn128_bk128_w8_s6_k1"},  {48, "wg_bm64_bn128_bk128_w8_s6_k8"},
      {129, "wg_bm64_bn256_bk128_w8_s4_k1"}, {200, "wg_bm64_bn256_bk128_w8_s5_k2"},
      {1000, "wg_bm128_bn128_bk128_w8_s5_k1"},
      {2000, "wg_bm128_bn256_bk128_w8_s4_k1"}, {4096, "wg_bm128_bn64_bk128_w4_s6_k1"},
      {3000, "wg_bm256_bn128_bk128_w8_s4_k1"}, {5000, "wg_bm256_bn128_bk128_w8_s3_k1"},
      {600, "wg_bm256_bn64_bk128_w4_s5_k1"}};
  check_forced_wgmma("forced-wgmma", rows);
}

TEST_CASE("gpu: wgmma_sm90 configs that multicast the token tile over a cluster of two, forced "
          "through a tuned table", "[gpu][multicast]") {
  // Each kind of tile with its token box copied half by each CTA of a cluster into both. N = 1040
  // is an odd number of bn = 64 / 128 / 256 tiles (a cluster's second CTA lies past N), N = 48
  // has one tile (the second CTA of every cluster lies past N), N = 4096 an even number; M is
  // ragged and spans several raster groups; K/32 = 129 and K % 32 == 16.
  const std::vector<std::pair<std::int64_t, std::string>> rows = {
      {1, "wg_bm16_bn64_bk128_w4_s8_k1_mc2"},     {37, "wg_bm32_bn128_bk128_w8_s6_k1_mc2"},
      {129, "wg_bm64_bn256_bk128_w8_s4_k1_mc2"},  {1000, "wg_bm128_bn128_bk128_w8_s5_k1_mc2"},
      {2000, "wg_bm128_bn256_bk128_w8_s4_k1_mc2"}, {3000, "wg_bm256_bn128_bk128_w8_s4_k1_mc2"},
      {5000, "wg_bm256_bn128_bk128_w8_s3_k1_mc2"}, {600, "wg_bm256_bn64_bk128_w4_s5_k1_mc2"},
      {4096, "wg_bm128_bn64_bk128_w4_s6_k1_mc2"}};
  check_forced_wgmma("forced-multicast", rows);
}

TEST_CASE("gpu: wgmma_sm90 ping-pong configs (the consumer warpgroups on alternate tiles), forced "
          "through a tuned table", "[gpu][pingpong]") {
  // Tiles of 64 and 128 rows, 64..256 tokens, with and without setmaxnreg. M = 1 on N = 48 is one
  // tile (the second warpgroup has none); larger M gives each block several tiles, an odd number
  // of them on some blocks; N % bn != 0, K/32 = 129 and K % 32 == 16.
  const std::vector<std::pair<std::int64_t, std::string>> rows = {
      {1, "wg_bm64_bn64_bk128_w8_s8_k1_pp"},      {37, "wg_bm64_bn128_bk128_w8_s7_k1_pp"},
      {600, "wg_bm128_bn64_bk128_w8_s8_k1_pp"},   {1000, "wg_bm128_bn128_bk128_w8_s6_k1_pp"},
      {3000, "wg_bm256_bn64_bk128_w8_s4_k1_pp"},  {5000, "wg_bm128_bn128_bk128_w8_s6_k1_pp"}};
  check_forced_wgmma("forced-pingpong", rows);
}

TEST_CASE("gpu: the tuning bench times a config the same wherever it stands among the candidates",
          "[gpu]") {
  auto d = test::open_gpu_session();
  if (!d) return;
  if (d->ctx->target() != "sm_90a") {
    std::printf("SKIPPED: the configs timed here are wgmma_sm90's, which need an sm_90a GPU; "
                "this one is %s\n", d->ctx->target().c_str());
    return;
  }
  // A large GEMM (about 0.4 ms a call, so that the warm-up calls before a candidate's timed
  // regions take milliseconds) timed three times in one run, with the tuner's early abandon on:
  // a later copy of the first config must not read slower than the first.
  Context& ctx = *d->ctx;
  const std::int64_t n = 8192, k = 8192, m = 4096;
  const auto target = compiler::Target::parse(ctx.target());
  const auto bytes = compiler::random_fp8(target.fp8_format(), static_cast<std::size_t>(n * k), 11);
  const std::vector<float> scales(n, 0.5f);
  DeviceBuffer w = ctx.alloc(bytes.size()), sw = ctx.alloc(scales.size() * 4);
  ctx.copy_to_device(w.get(), bytes.data(), bytes.size());
  ctx.copy_to_device(sw.get(), scales.data(), scales.size() * 4);
  const PackedWeight packed = ctx.pack_weight(w.get(), static_cast<const float*>(sw.get()), n, k);
  runtime::TuningBench bench(ctx, packed, m, OutDType::bf16, true, 5);
  const auto c = compiler::GemmConfig::parse("wg_bm128_bn256_bk128_w8_s4_k1", target);
  const auto trials = bench.run(m, {c, c, c}, {.reps = 5, .min_calls = 8, .abandon_ratio = 1.3});
  for (const auto& t : trials) {
    std::printf("tuning-bench %s M=%lld %.2f us err=%.2e %s\n", t.config.str().c_str(),
                (long long)m, t.us, t.err, t.failure.c_str());
    REQUIRE(t.ok());
  }
  CHECK(trials[1].us < 1.1 * trials[0].us);
  CHECK(trials[2].us < 1.1 * trials[0].us);
  CHECK(trials[0].us < 1.1 * std::min(trials[1].us, trials[2].us));
}
