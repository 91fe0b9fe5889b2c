#include "tools/bench/operands.hpp"

#include <algorithm>

#include "compiler/target.hpp"

namespace fp8jit::bench {

namespace {
constexpr std::uint16_t kPoison = 0xffff;  // NaN in bf16 and fp16; never produced by a kernel
}

Operands::Operands(Context& ctx, std::int64_t max_m, std::int64_t n, std::int64_t k, bool with_bias,
                   std::mt19937_64& rng)
    : problem(tools::make_problem(max_m, n, k, compiler::Target::parse(ctx.target()).fp8_format(),
                                  OutDType::bf16, with_bias, rng)) {
  const std::size_t wbytes = static_cast<std::size_t>(n * k);
  // At least two, so that consecutive calls never read the same weight.
  copies = static_cast<int>(std::clamp<std::size_t>((4 * ctx.l2_bytes() + wbytes - 1) / wbytes, 2, 16));
  a = ctx.alloc(problem.a.size());
  sa = ctx.alloc(problem.sa.size() * 4);
  sw = ctx.alloc(n * 4);
  bias = ctx.alloc(n * 2);
  out = ctx.alloc(max_m * n * 2);
  ctx.copy_to_device(a.get(), problem.a.data(), problem.a.size());
  ctx.copy_to_device(sa.get(), problem.sa.data(), problem.sa.size() * 4);
  ctx.copy_to_device(sw.get(), problem.sw.data(), n * 4);
  if (with_bias) ctx.copy_to_device(bias.get(), problem.b.data(), n * 2);
  for (int c = 0; c < copies; ++c) {
    raw.push_back(ctx.alloc(wbytes));
    ctx.copy_to_device(raw.back().get(), problem.w.data(), wbytes);
    packed.push_back(ctx.pack_weight(raw.back().get(), static_cast<const float*>(sw.get()), n, k));
  }
}

GemmArgs Operands::args(std::int64_t m, int copy) const {
  GemmArgs g;
  g.a = a.get();
  g.sa = static_cast<const float*>(sa.get());
  g.w = &packed[copy];
  g.bias = problem.bias ? bias.get() : nullptr;
  g.out = out.get();
  g.m = m;
  return g;
}

void Operands::poison_out(Context& ctx, std::int64_t m) const {
  const std::vector<std::uint16_t> host(m * problem.n, kPoison);
  ctx.copy_to_device(out.get(), host.data(), host.size() * 2);
}

double Operands::error(Context& ctx, std::int64_t m, const std::vector<std::int64_t>& rows,
                       const std::vector<double>& ref) const {
  ctx.synchronize();
  std::vector<std::uint16_t> host(m * problem.n);
  ctx.copy_to_host(host.data(), out.get(), host.size() * 2);
  return tools::relative_error(problem, host, rows, ref, kPoison);
}

}  // namespace fp8jit::bench
