// Programmatic dependent launch (Options::pdl, on by default on sm_90+): a GEMM may start while the
// kernel before it in the stream is still running, so it must wait for that kernel
// (griddepcontrol.wait) before it reads what that kernel writes or writes what it writes.
//
// The kernel before it here is `late_copy`: it lets its dependents start at once
// (griddepcontrol.launch_dependents), spins for 200 us, and only then copies. A GEMM that did not
// wait would run inside the spin: it would read its activations before late_copy restores them
// (RAW), or store its output before late_copy overwrites it (WAW) — and either way fail the check
// against the float64 reference.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "fp8jit/fp8jit.hpp"
#include "runtime/context_state.hpp"
#include "tests/support/device_gemm.hpp"
#include "tests/support/gpu_session.hpp"

using namespace fp8jit;

namespace {

// late_copy(u32* dst, const u32* src, u32 words, u64 spin_ns): launch_dependents; every thread
// spins until spin_ns of %globaltimer have passed; then dst[i] = src[i] (grid-stride).
const char kLateCopyPtx[] = R"(
.version 7.8
.target sm_90
.address_size 64
.visible .entry late_copy(.param .u64 dst_p, .param .u64 src_p, .param .u32 words_p,
                          .param .u64 spin_p)
{
  .reg .pred %p<3>;
  .reg .b32 %r<10>;
  .reg .b64 %rd<12>;
  griddepcontrol.launch_dependents;
  ld.param.u64 %rd1, [dst_p];
  ld.param.u64 %rd2, [src_p];
  ld.param.u32 %r1, [words_p];
  ld.param.u64 %rd3, [spin_p];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  mov.u64 %rd4, %globaltimer;
  add.u64 %rd5, %rd4, %rd3;
SPIN:
  mov.u64 %rd6, %globaltimer;
  setp.lt.u64 %p1, %rd6, %rd5;
  @%p1 bra SPIN;
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.u32 %r5, %r2, %r3, %r4;
  mov.u32 %r6, %nctaid.x;
  mul.lo.u32 %r7, %r6, %r3;
COPY:
  setp.ge.u32 %p2, %r5, %r1;
  @%p2 bra DONE;
  mul.wide.u32 %rd7, %r5, 4;
  add.u64 %rd8, %rd2, %rd7;
  add.u64 %rd9, %rd1, %rd7;
  ld.global.u32 %r8, [%rd8];
  st.global.u32 [%rd9], %r8;
  add.u32 %r5, %r5, %r7;
  bra COPY;
DONE:
  ret;
}
)";

}  // namespace

TEST_CASE("gpu: a programmatically launched GEMM waits for the kernel before it", "[gpu][pdl]") {
  auto gpu = test::open_gpu_session();
  if (!gpu) return;
  Context& ctx = *gpu->ctx;
  runtime::Driver& driver = *runtime::state_of(ctx).driver;
  if (!runtime::state_of(ctx).options.pdl)
    std::printf("note: FP8JIT_PDL=0: the GEMMs launch without overlap (the test still runs)\n");
  std::mt19937_64 rng(std::random_device{}());

  const runtime::Module module = driver.load(
      std::vector<std::uint8_t>(kLateCopyPtx, kLateCopyPtx + std::strlen(kLateCopyPtx) + 1));
  void* late_copy = driver.function(module, "late_copy");
  const auto launch_late_copy = [&](void* dst, const void* src, std::size_t bytes) {
    runtime::LaunchDims dims;
    dims.grid[0] = 16;  // every block resident at once, so all of them trigger at the start
    dims.block[0] = 256;
    const void* s = src;
    auto words = static_cast<std::uint32_t>(bytes / 4);
    std::uint64_t spin_ns = 200'000;
    void* args[] = {&dst, &s, &words, &spin_ns};
    driver.launch(late_copy, dims, nullptr, args);
  };

  test::DeviceGemm gemm(ctx, 1024, 2048, 1024, OutDType::bf16, true, rng);
  for (const std::int64_t m : {1, 16, 256, 1024}) {  // mma_sm89 at small M, wgmma_sm90 above
    const std::string name = "M=" + std::to_string(m);
    const DeviceBuffer out = gemm.make_out(m);
    ctx.gemm(gemm.args(m, out));  // loads the kernel first (loading synchronises)
    ctx.synchronize();

    // WAW: late_copy writes a finite value (bf16 1.0) over the whole output, then the GEMM.
    const std::size_t out_bytes = static_cast<std::size_t>(m * gemm.n() * 2);
    const DeviceBuffer ones = ctx.alloc(out_bytes);
    const std::vector<std::uint16_t> host_ones(out_bytes / 2, 0x3f80);
    ctx.copy_to_device(ones.get(), host_ones.data(), out_bytes);
    gemm.poison(out, m);
    launch_late_copy(out.get(), ones.get(), out_bytes);
    ctx.gemm(gemm.args(m, out));
    ctx.synchronize();
    gemm.check(*gpu->ref, out, m, "pdl-order", "write after late_copy's write " + name);

    // RAW: the activations are zeroed, late_copy restores them from a copy, then the GEMM.
    const GemmArgs g = gemm.args(m, out);
    const std::size_t a_bytes = static_cast<std::size_t>(m * gemm.k());
    const DeviceBuffer saved = ctx.alloc(a_bytes);
    driver.copy_device_async(saved.get(), g.a, a_bytes, nullptr);
    driver.memset(const_cast<void*>(g.a), 0, a_bytes);
    gemm.poison(out, m);
    launch_late_copy(const_cast<void*>(g.a), saved.get(), a_bytes);
    ctx.gemm(g);
    ctx.synchronize();
    gemm.check(*gpu->ref, out, m, "pdl-order", "read after late_copy's write " + name);
  }
}
