// The host cost of a GEMM call: Plan::gemm and Context::gemm against a raw Driver::launch of the
// same kernel with the same arguments, on a tiny shape whose kernel is loaded. The raw launches
// are made from inside fp8jit's own launch (a driver that forwards everything and, when armed,
// replays the launch it is handed), so they use exactly the kernel, grid and arguments fp8jit
// would, whatever the family.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <random>

#include "fp8jit/fp8jit.hpp"
#include "runtime/context_state.hpp"
#include "tests/support/device_gemm.hpp"
#include "tests/support/gpu.hpp"

namespace {

using namespace fp8jit;
using Clock = std::chrono::steady_clock;

// Forwards every call to the real driver. While `replays` > 0, one launch() instead makes
// `replays` launches of what it was handed on the real driver, timed, and disarms.
class ReplayDriver final : public runtime::Driver {
 public:
  explicit ReplayDriver(std::unique_ptr<runtime::Driver> real) : real_(std::move(real)) {}

  std::string name() const override { return real_->name(); }
  const runtime::DeviceInfo& device() const override { return real_->device(); }
  runtime::Module load(const std::vector<std::uint8_t>& b) override { return real_->load(b); }
  void* function(const runtime::Module& m, const std::string& n) override { return real_->function(m, n); }
  void launch(void* f, const runtime::LaunchDims& d, void* s, void** args) override {
    if (replays > 0) {
      const int n = replays;
      replays = 0;
      const auto t0 = Clock::now();
      for (int i = 0; i < n; ++i) real_->launch(f, d, s, args);
      replay_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      return;
    }
    real_->launch(f, d, s, args);
  }
  void* alloc(std::size_t bytes) override { return real_->alloc(bytes); }
  void free(void* p) noexcept override { real_->free(p); }
  void copy_to_device(void* d, const void* s, std::size_t n) override { real_->copy_to_device(d, s, n); }
  void copy_to_host(void* d, const void* s, std::size_t n) override { real_->copy_to_host(d, s, n); }
  void memset(void* d, int b, std::size_t n) override { real_->memset(d, b, n); }
  void synchronize(void* s) override { real_->synchronize(s); }
  double time_ms(void* s, const std::function<void()>& e) override { return real_->time_ms(s, e); }
  // Part of a wgmma_sm90 call (its descriptors of A and W), so part of the measured fp8jit time.
  void encode_tma(void* map, const runtime::TmaTensor& t) override { real_->encode_tma(map, t); }

  int replays = 0;
  double replay_seconds = 0;

 private:
  std::unique_ptr<runtime::Driver> real_;
};

}  // namespace

TEST_CASE("gpu: a GEMM call costs at most 5 us of host time more than a raw launch", "[gpu][overhead]") {
  auto aux = test::gpu_or_skip();
  if (!aux) return;
  test::GpuReference ref(*aux);
  auto replay = std::make_unique<ReplayDriver>(runtime::make_cuda_driver(0));
  ReplayDriver& driver = *replay;
  Context ctx = runtime::make_context(Options::from_env(), std::move(replay));
  std::mt19937_64 rng(std::random_device{}());

  const std::int64_t m = 1;
  test::DeviceGemm g(ctx, m, 256, 512, OutDType::bf16, true, rng);
  const DeviceBuffer out = g.make_out(m);
  const GemmArgs args = g.args(m, out);
  const Plan plan = ctx.plan(g.weight(), OutDType::bf16, true);
  ctx.gemm(args);  // loads Context::gemm's kernel for M = 1
  ctx.synchronize();
  g.check(ref, out, m, "overhead-check", "tiny");

  // Batches small enough that the launch queue never fills (a full queue would time the GPU, not
  // the host); the device drains between batches, untimed. The three kinds alternate.
  constexpr int kBatch = 200, kBatches = 100;  // 20000 calls of each kind
  double raw_s = 0, plan_s = 0, ctx_s = 0;
  const auto timed = [](auto&& body) {
    const auto t0 = Clock::now();
    body();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  for (int warm = 0; warm < 5; ++warm) {
    for (int i = 0; i < kBatch; ++i) plan.gemm(args), ctx.gemm(args);
    ctx.synchronize();
  }
  for (int b = 0; b < kBatches; ++b) {
    driver.replays = kBatch;
    plan.gemm(args);  // kBatch raw launches of the plan's kernel and arguments
    raw_s += driver.replay_seconds;
    ctx.synchronize();
    plan_s += timed([&] {
      for (int i = 0; i < kBatch; ++i) plan.gemm(args);
    });
    ctx.synchronize();
    ctx_s += timed([&] {
      for (int i = 0; i < kBatch; ++i) ctx.gemm(args);
    });
    ctx.synchronize();
  }
  const double calls = double(kBatch) * kBatches;
  const double raw_us = raw_s / calls * 1e6, plan_us = plan_s / calls * 1e6, ctx_us = ctx_s / calls * 1e6;
  std::printf("overhead: host us per call over %.0f calls (M=%lld N=256 K=512): raw Driver::launch "
              "%.2f, Plan::gemm %.2f (+%.2f), Context::gemm %.2f (+%.2f); limit +5.00\n",
              calls, (long long)m, raw_us, plan_us, plan_us - raw_us, ctx_us, ctx_us - raw_us);
  std::printf("overhead-detail: kernel %s\n", plan.describe().front().c_str());
  ctx.synchronize();
  g.check(ref, out, m, "overhead-check", "tiny after the timed calls");
  CHECK(plan_us - raw_us <= 5.0);
  CHECK(ctx_us - raw_us <= 5.0);
}
