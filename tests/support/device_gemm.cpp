#include "tests/support/device_gemm.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <vector>

#include "compiler/fp8_format.hpp"
#include "compiler/layouts.hpp"
#include "compiler/target.hpp"

namespace fp8jit::test {

DeviceGemm::DeviceGemm(Context& ctx, std::int64_t max_m, std::int64_t n, std::int64_t k,
                       OutDType out, bool bias, std::mt19937_64& rng)
    : ctx_(ctx),
      p_(tools::make_problem(max_m, n, k, compiler::Target::parse(ctx.target()).fp8_format(), out,
                             bias, rng)) {
  a_ = ctx.alloc(p_.a.size());
  w_ = ctx.alloc(p_.w.size());
  sa_ = ctx.alloc(p_.sa.size() * 4);
  sw_ = ctx.alloc(p_.sw.size() * 4);
  ref_ = ctx.alloc(max_m * n * 8);
  if (bias) {
    bias_ = ctx.alloc(n * 2);
    bias64_ = ctx.alloc(n * 8);
  }
  upload();
  packed_ = ctx.pack_weight(w_.get(), static_cast<const float*>(sw_.get()), n, k);
  ctx.synchronize();
}

void DeviceGemm::upload() {
  ctx_.copy_to_device(a_.get(), p_.a.data(), p_.a.size());
  ctx_.copy_to_device(w_.get(), p_.w.data(), p_.w.size());
  ctx_.copy_to_device(sa_.get(), p_.sa.data(), p_.sa.size() * 4);
  ctx_.copy_to_device(sw_.get(), p_.sw.data(), p_.sw.size() * 4);
  if (p_.bias) {
    std::vector<double> b64(p_.n);
    for (std::int64_t i = 0; i < p_.n; ++i)
      b64[i] = p_.out == OutDType::bf16 ? compiler::bf16_to_float(p_.b[i])
                                        : compiler::fp16_to_float(p_.b[i]);
    ctx_.copy_to_device(bias_.get(), p_.b.data(), p_.n * 2);
    ctx_.copy_to_device(bias64_.get(), b64.data(), p_.n * 8);
  }
}

void DeviceGemm::refill(std::mt19937_64& rng) {
  ctx_.synchronize();
  p_ = tools::make_problem(p_.m, p_.n, p_.k, p_.format, p_.out, p_.bias, rng);
  upload();
  // NOTE: packed on the host into the packed weight's own buffer, which work already enqueued (a
  // captured graph) reads; pack_weight would allocate a new one.
  std::vector<std::uint8_t> packed(p_.w.size());
  compiler::pack_host(packed_.layout(), p_.w.data(), packed.data(), p_.n, p_.k);
  ctx_.copy_to_device(const_cast<void*>(packed_.data()), packed.data(), packed.size());
  // NOTE: a copy from pageable memory may return before its DMA lands, and work on a
  // non-blocking stream does not wait for it: wait here.
  ctx_.synchronize();
}

DeviceBuffer DeviceGemm::make_out(std::int64_t m) const {
  DeviceBuffer out = ctx_.alloc(m * p_.n * 2);
  poison(out, m);
  return out;
}

void DeviceGemm::poison(const DeviceBuffer& out, std::int64_t m) const {
  const std::vector<std::uint16_t> host(m * p_.n, kPoison);
  ctx_.copy_to_device(out.get(), host.data(), host.size() * 2);
  ctx_.synchronize();  // see refill()
}

GemmArgs DeviceGemm::args(std::int64_t m, const DeviceBuffer& out) const {
  GemmArgs g;
  g.a = a_.get();
  g.sa = static_cast<const float*>(sa_.get());
  g.w = &packed_;
  g.bias = p_.bias ? bias_.get() : nullptr;
  g.out = out.get();
  g.m = m;
  g.out_dtype = p_.out;
  return g;
}

bool DeviceGemm::check(GpuReference& ref, const DeviceBuffer& out, std::int64_t m,
                       const std::string& tag, const std::string& name) {
  ref.gemm(a_.get(), w_.get(), p_.format, static_cast<const float*>(sa_.get()),
           static_cast<const float*>(sw_.get()),
           p_.bias ? static_cast<const double*>(bias64_.get()) : nullptr,
           static_cast<double*>(ref_.get()), m, p_.n, p_.k);
  ctx_.synchronize();
  const auto e = ref.compare(out.get(), p_.out, static_cast<const double*>(ref_.get()), m * p_.n,
                             kPoison);
  const bool ok = e.relative <= 1e-2 && e.relative > 0 && e.unwritten == 0;
  std::printf("%s %-28s M=%-5lld N=%-6lld K=%-6lld out=%s bias=%d rel_err=%.3e unwritten=%llu %s\n",
              tag.c_str(), name.c_str(), (long long)m, (long long)p_.n, (long long)p_.k,
              std::string(to_string(p_.out)).c_str(), int(p_.bias), e.relative,
              (unsigned long long)e.unwritten, ok ? "ok" : "FAIL");
  INFO(tag << " " << name << " M=" << m << " N=" << p_.n << " K=" << p_.k);
  CHECK(e.unwritten == 0);
  CHECK(e.relative <= 1e-2);
  CHECK(e.relative > 0);  // rounding always leaves a trace: 0 means nothing was compared
  return ok;
}

}  // namespace fp8jit::test
