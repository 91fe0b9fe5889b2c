// CUDA graphs: fp8jit GEMMs (through a Plan and through Context::gemm) captured from a stream into
// a graph, the graph launched on fresh inputs and checked against the float64 reference; a GEMM
// whose kernel is not loaded yet during a capture; and, without a GPU, the Driver's optional calls
// and a load refused during a capture.
#include <catch2/catch.hpp>
#include <cstdio>
#include <functional>
#include <random>

#include "fp8jit/fp8jit.hpp"
#include "runtime/context_state.hpp"
#include "tests/support/device_gemm.hpp"
#include "tests/support/fake_driver.hpp"
#include "tests/support/gpu.hpp"
#include "tests/support/gpu_session.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/skip.hpp"

namespace {

using namespace fp8jit;
using Catch::Matchers::Contains;

// A driver handle (stream, graph, executable graph) destroyed with the scope.
class Owned {
 public:
  Owned(void* handle, std::function<void(void*)> release) : h_(handle), release_(std::move(release)) {}
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  ~Owned() {
    if (h_) release_(h_);
  }
  void* get() const { return h_; }

 private:
  void* h_;
  std::function<void(void*)> release_;
};


// One GEMM call of the graph: a weight, an M, its own output, through the plan or Context::gemm.
struct Call {
  test::DeviceGemm* gemm;
  const Plan* plan;  // nullptr: Context::gemm
  std::int64_t m;
  DeviceBuffer out;
  std::string name() const {
    return std::string(plan ? "plan" : "ctx.gemm") + " n" + std::to_string(gemm->n()) + "_k" +
           std::to_string(gemm->k());
  }
};

void enqueue(Context& ctx, const Call& c, void* stream) {
  const GemmArgs g = c.gemm->args(c.m, c.out);
  c.plan ? c.plan->gemm(g, stream) : ctx.gemm(g, stream);
}

// Forwards to a FakeDriver; load() throws CaptureConflict while refuse_loads > 0.
class CaptureConflictDriver final : public runtime::Driver {
 public:
  std::string name() const override { return "capture-conflict fake"; }
  const runtime::DeviceInfo& device() const override { return fake.device(); }
  runtime::Module load(const std::vector<std::uint8_t>& binary) override {
    if (refuse_loads > 0) {
      --refuse_loads;
      throw runtime::CaptureConflict("failed to load a module: a stream capture is in progress");
    }
    return fake.load(binary);
  }
  void* function(const runtime::Module& m, const std::string& n) override { return fake.function(m, n); }
  void launch(void* f, const runtime::LaunchDims& d, void* s, void** a) override { fake.launch(f, d, s, a); }
  void* alloc(std::size_t bytes) override { return fake.alloc(bytes); }
  void free(void* p) noexcept override { fake.free(p); }
  void copy_to_device(void* d, const void* s, std::size_t n) override { fake.copy_to_device(d, s, n); }
  void copy_to_host(void* d, const void* s, std::size_t n) override { fake.copy_to_host(d, s, n); }
  void memset(void* d, int b, std::size_t n) override { fake.memset(d, b, n); }
  void synchronize(void* s) override { fake.synchronize(s); }
  double time_ms(void* s, const std::function<void()>& e) override { return fake.time_ms(s, e); }
  void encode_tma(void* map, const runtime::TmaTensor& t) override { fake.encode_tma(map, t); }

  test::FakeDriver fake;
  int refuse_loads = 0;
};

bool have_nvrtc() { return test::toolchains_for_or_skip("sm_90a") != nullptr; }

}  // namespace

TEST_CASE("driver: the optional calls of a driver that lacks them throw DriverError naming it", "[driver]") {
  test::FakeDriver fake;
  runtime::Driver& d = fake;
  int x = 0;
  CHECK_THROWS_WITH(d.copy_device_async(&x, &x, 4, nullptr),
                    Contains("failed to copy device memory") && Contains("not supported by fake"));
  CHECK_THROWS_AS(d.create_stream(), DriverError);
  CHECK_THROWS_AS(d.begin_capture(nullptr), DriverError);
  CHECK_THROWS_AS(d.end_capture(nullptr), DriverError);
  CHECK_THROWS_AS(d.instantiate_graph(nullptr), DriverError);
  CHECK_THROWS_AS(d.launch_graph(nullptr, nullptr), DriverError);
  // Releasing never throws, whatever the handle.
  d.destroy_stream(nullptr);
  d.destroy_graph(nullptr);
  d.destroy_graph_exec(nullptr);
}

TEST_CASE("kernel cache: a load refused during a stream capture keeps the cached binary", "[context][cache]") {
  if (!have_nvrtc()) return;
  test::TempDir dir;
  Options o;
  o.cache_dir = dir.path();
  const std::int64_t m = 16, n = 512, k = 256;
  {  // fills the disk cache
    Context ctx = runtime::make_context(o, std::make_unique<test::FakeDriver>());
    DeviceBuffer w = ctx.alloc(n * k), sw = ctx.alloc(n * 4), a = ctx.alloc(m * k),
                 sa = ctx.alloc(m * 4), out = ctx.alloc(m * n * 2);
    const PackedWeight pw = ctx.pack_weight(w.get(), static_cast<const float*>(sw.get()), n, k);
    ctx.gemm({a.get(), static_cast<const float*>(sa.get()), &pw, nullptr, out.get(), m});
  }
  auto driver = std::make_unique<CaptureConflictDriver>();
  CaptureConflictDriver* d = driver.get();
  Context ctx = runtime::make_context(o, std::move(driver));
  DeviceBuffer w = ctx.alloc(n * k), sw = ctx.alloc(n * 4), a = ctx.alloc(m * k),
               sa = ctx.alloc(m * 4), out = ctx.alloc(m * n * 2);
  const PackedWeight pw = ctx.pack_weight(w.get(), static_cast<const float*>(sw.get()), n, k);
  const GemmArgs g{a.get(), static_cast<const float*>(sa.get()), &pw, nullptr, out.get(), m};
  d->refuse_loads = 1;
  CHECK_THROWS_AS(ctx.gemm(g), runtime::CaptureConflict);
  const std::size_t launches = d->fake.launches.size();
  ctx.gemm(g);  // once the capture is over: the same cached binary loads
  CHECK(d->fake.launches.size() == launches + 1);
  CHECK(ctx.stats().compiles == 0);  // a binary set aside would have been compiled again
  CHECK(ctx.stats().disk_hits >= 3);  // preshuffle, the refused load, the load that worked
}

TEST_CASE("gpu: GEMMs captured into a CUDA graph compute fresh inputs on every launch", "[gpu][graph]") {
  auto gpu = test::open_gpu_session();
  if (!gpu) return;
  Context& ctx = *gpu->ctx;
  runtime::Driver& driver = *runtime::state_of(ctx).driver;
  std::mt19937_64 rng(std::random_device{}());

  // Two weights; each through a Plan and through Context::gemm, at M in different buckets.
  test::DeviceGemm g1(ctx, 129, 272, 1056, OutDType::bf16, true, rng);
  test::DeviceGemm g2(ctx, 129, 1040, 4128, OutDType::fp16, false, rng);
  const Plan p1 = ctx.plan(g1.weight(), g1.out_dtype(), g1.has_bias());
  const Plan p2 = ctx.plan(g2.weight(), g2.out_dtype(), g2.has_bias());
  std::vector<Call> calls;
  for (const std::int64_t m : {1, 37, 129}) {
    calls.push_back({&g1, &p1, m, g1.make_out(m)});
    calls.push_back({&g2, nullptr, m, g2.make_out(m)});
  }
  calls.push_back({&g1, nullptr, 16, g1.make_out(16)});
  calls.push_back({&g2, &p2, 7, g2.make_out(7)});

  const Owned stream(driver.create_stream(), [&](void* s) { driver.destroy_stream(s); });
  // Warm-up, outside any capture: Context::gemm loads the kernel of each (shape, M) here (a Plan
  // loaded all of its own when it was made). Checked, so a wrong graph is not blamed on capture.
  for (const Call& c : calls) enqueue(ctx, c, stream.get());
  driver.synchronize(stream.get());
  for (const Call& c : calls) c.gemm->check(*gpu->ref, c.out, c.m, "graph-check", c.name() + " eager");
  const auto compiles = ctx.stats().compiles;

  driver.begin_capture(stream.get());
  try {
    for (const Call& c : calls) enqueue(ctx, c, stream.get());
  } catch (...) {
    try {
      driver.destroy_graph(driver.end_capture(stream.get()));
    } catch (const DriverError&) {
    }
    throw;
  }
  const Owned graph(driver.end_capture(stream.get()), [&](void* h) { driver.destroy_graph(h); });
  REQUIRE(graph.get() != nullptr);
  const Owned exec(driver.instantiate_graph(graph.get()), [&](void* h) { driver.destroy_graph_exec(h); });
  CHECK(ctx.stats().compiles == compiles);  // nothing was built while capturing

  for (int launch = 0; launch < 3; ++launch) {
    g1.refill(rng);
    g2.refill(rng);
    for (const Call& c : calls) c.gemm->poison(c.out, c.m);
    driver.launch_graph(exec.get(), stream.get());
    driver.synchronize(stream.get());
    for (const Call& c : calls)
      c.gemm->check(*gpu->ref, c.out, c.m, "graph-check",
                    c.name() + " graph launch " + std::to_string(launch));
  }
}

TEST_CASE("gpu: a GEMM whose kernel is not loaded fails a capture loudly, then runs", "[gpu][graph]") {
  auto gpu = test::open_gpu_session();
  if (!gpu) return;
  Context& ctx = *gpu->ctx;
  runtime::Driver& driver = *runtime::state_of(ctx).driver;
  std::mt19937_64 rng(std::random_device{}());
  // A shape no other test uses, so that this Context has not loaded its kernel.
  test::DeviceGemm g(ctx, 5, 1008, 2016, OutDType::bf16, true, rng);
  const DeviceBuffer out = g.make_out(5);
  const Owned stream(driver.create_stream(), [&](void* s) { driver.destroy_stream(s); });

  driver.begin_capture(stream.get());
  std::string refused;
  try {
    ctx.gemm(g.args(5, out), stream.get());
  } catch (const runtime::CaptureConflict& e) {
    refused = e.what();
  }
  void* graph = nullptr;
  std::string end_error;
  try {
    graph = driver.end_capture(stream.get());
  } catch (const DriverError& e) {
    end_error = e.what();
  }
  const Owned graph_owner(graph, [&](void* h) { driver.destroy_graph(h); });
  if (!refused.empty()) {
    // The expected outcome with CUDA's default (global) capture mode: a loud error, a capture
    // that cannot be ended into a graph, and nothing set aside from the cache.
    std::printf("capture-check: loading during capture refused: %s\n", refused.c_str());
    std::printf("capture-check: end of the capture: %s\n",
                end_error.empty() ? "a graph (unexpected)" : end_error.c_str());
    CHECK_THAT(refused, Contains("before a stream capture begins"));
    CHECK(graph == nullptr);
    const auto compiles = ctx.stats().compiles;
    ctx.gemm(g.args(5, out), stream.get());  // outside the capture it loads and runs
    driver.synchronize(stream.get());
    if (runtime::state_of(ctx).builder->cache_layers()) CHECK(ctx.stats().compiles == compiles);
    g.check(*gpu->ref, out, 5, "graph-check", "load refused during capture, then eager");
  } else {
    // The driver let the module load during the capture: then the graph must be right.
    std::printf("capture-check: the driver allowed loading a kernel during capture (%s)\n",
                end_error.empty() ? "graph captured" : end_error.c_str());
    REQUIRE(end_error.empty());
    REQUIRE(graph != nullptr);
    const Owned exec(driver.instantiate_graph(graph), [&](void* h) { driver.destroy_graph_exec(h); });
    g.refill(rng);
    g.poison(out, 5);
    driver.launch_graph(exec.get(), stream.get());
    driver.synchronize(stream.get());
    g.check(*gpu->ref, out, 5, "graph-check", "kernel loaded during capture");
  }
}
