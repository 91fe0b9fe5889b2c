#include "tests/emu/emu_support.hpp"

#include <cstdlib>

#include "runtime/context_state.hpp"
#include "tests/support/skip.hpp"

namespace fp8jit::test {

using fp8jit::test::skip;

std::unique_ptr<compiler::Toolchain> emu_toolchain_or_skip() {
  try {
    return compiler::make_emu_toolchain();
  } catch (const Error& e) {
    skip(std::string("no host C++ compiler: ") + e.what());
    return nullptr;
  }
}

std::unique_ptr<Context> emu_context_or_skip(const std::string& target) {
  if (!emu_toolchain_or_skip()) return nullptr;
  Options o = Options::from_env();
  o.target = target;
  return std::make_unique<Context>(o);
}

std::mt19937_64 seeded_rng(const char* what) {
  const char* fixed = std::getenv("FP8JIT_TEST_SEED");  // test-only: replays a failure
  const std::uint64_t seed = fixed ? std::strtoull(fixed, nullptr, 10) : std::random_device{}();
  std::printf("%s: seed %llu (FP8JIT_TEST_SEED replays it)\n", what, (unsigned long long)seed);
  return std::mt19937_64(seed);
}

EmuProblem make_emu_problem(Context& ctx, std::int64_t max_m, std::int64_t n, std::int64_t k,
                            OutDType out, bool bias, std::mt19937_64& rng,
                            std::vector<std::uint8_t> (*packer)(const tools::GemmProblem&)) {
  const auto fmt = compiler::Target::parse(ctx.target()).fp8_format();
  EmuProblem e{tools::make_problem(max_m, n, k, fmt, out, bias, rng)};
  const auto& p = e.p;
  e.a = ctx.alloc(p.a.size());
  e.w = ctx.alloc(p.w.size());
  e.sa = ctx.alloc(p.sa.size() * 4);
  e.sw = ctx.alloc(p.sw.size() * 4);
  e.out = ctx.alloc(max_m * n * 2);
  ctx.copy_to_device(e.a.get(), p.a.data(), p.a.size());
  ctx.copy_to_device(e.sa.get(), p.sa.data(), p.sa.size() * 4);
  ctx.copy_to_device(e.sw.get(), p.sw.data(), p.sw.size() * 4);
  if (bias) {
    e.bias = ctx.alloc(n * 2);
    ctx.copy_to_device(e.bias.get(), p.b.data(), n * 2);
  }
  const auto* sw = static_cast<const float*>(e.sw.get());
  if (packer) {
    const std::vector<std::uint8_t> bytes = packer(p);
    ctx.copy_to_device(e.w.get(), bytes.data(), bytes.size());
    e.packed = ctx.wrap_packed_weight(e.w.get(), sw, n, k,
                                      compiler::native_layout(compiler::Target::parse(ctx.target())));
  } else {
    ctx.copy_to_device(e.w.get(), p.w.data(), p.w.size());
    e.packed = ctx.pack_weight(e.w.get(), sw, n, k);
  }
  return e;
}

double run_and_compare(Context& ctx, EmuProblem& e, std::int64_t m,
                       const compiler::GemmConfig* config) {
  const auto& p = e.p;
  std::vector<std::uint16_t> host(p.m * p.n, kPoison);
  ctx.copy_to_device(e.out.get(), host.data(), host.size() * 2);
  GemmArgs g;
  g.a = e.a.get();
  g.sa = static_cast<const float*>(e.sa.get());
  g.w = &e.packed;
  g.bias = p.bias ? e.bias.get() : nullptr;
  g.out = e.out.get();
  g.m = m;
  g.out_dtype = p.out;
  if (config)
    runtime::gemm_with_config(ctx, g, *config, nullptr);
  else
    ctx.gemm(g);
  ctx.synchronize();
  ctx.copy_to_host(host.data(), e.out.get(), host.size() * 2);
  std::size_t past_m = 0;
  for (std::size_t i = static_cast<std::size_t>(m * p.n); i < host.size(); ++i)
    past_m += host[i] != kPoison;
  INFO("elements written past row M = " << m << ": " << past_m);
  CHECK(past_m == 0);
  tools::GemmProblem view = p;
  view.m = m;
  std::vector<std::int64_t> rows(m);
  for (std::int64_t r = 0; r < m; ++r) rows[r] = r;
  return tools::relative_error(view, host, rows, kPoison);
}

}  // namespace fp8jit::test
