#include "runtime/calibration.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "cache/binary_check.hpp"
#include "cache/key.hpp"
#include "compiler/fp8_format.hpp"
#include "fp8jit/version.hpp"
#include "runtime/context_state.hpp"
#include "runtime/tuning_bench.hpp"
#include "select/heuristic.hpp"
#include "util/time.hpp"

namespace fp8jit::runtime {

namespace {

// The compute-bound GEMM that measures the matrix rate (sm_90a: the wgmma family).
constexpr std::int64_t kMatrixMNK = 4096;
constexpr const char* kMatrixConfig = "wg_bm128_bn256_bk128_w8_s4_k1";
// The copy: 1 GiB each way, the median of 10 after two warm-up copies.
constexpr std::size_t kCopyBytes = std::size_t{1} << 30;
constexpr int kCopies = 10;

std::string library_version() { return cache::library_identity(FP8JIT_VERSION, build_id()); }

std::string record_key(const ContextState& s) {
  return cache::record_key("fp8jit calibration, format 1",
                           {s.target.str(), s.device.name, std::to_string(s.device.cu_num),
                            std::to_string(s.device.mem_bw), s.driver->name(), library_version()});
}

// The value of `x` in [lo, hi] at which rising(x) crosses `target` (bisection on a log scale;
// `rising` must grow with x).
double solve(double lo, double hi, double target, const std::function<double(double)>& rising) {
  for (int i = 0; i < 60; ++i) {
    const double mid = std::sqrt(lo * hi);
    (rising(mid) < target ? lo : hi) = mid;
  }
  return std::sqrt(lo * hi);
}

double estimate_us(const ContextState& s, const compiler::MachineModel& machine, const char* config,
                   std::int64_t m, std::int64_t n, std::int64_t k) {
  return select::estimate_gemm(s.target, machine, m, n, k,
                               compiler::GemmConfig::parse(config, s.target))
      .estimated_us;
}

// The device's figures from the measurements: the DRAM rate is the copy bandwidth (bytes read
// + written: on the H200 the model's fitted rate, 4.24 TB/s, is the 4.2 TB/s it copies at), and
// the wgmma rate is what makes the model reproduce the compute-bound GEMM.
void fit(const ContextState& s, Calibration& c) {
  compiler::MachineModel& m = c.machine;
  m.dram_bytes_per_s = c.copy_bytes_per_s;
  if (c.matrix_us > 0) {
    m.family[static_cast<int>(compiler::Family::wgmma_sm90)].matrix_flops_per_clock =
        solve(100, 1e6, -c.matrix_us, [&](double x) {
          compiler::MachineModel t = m;
          t.family[static_cast<int>(compiler::Family::wgmma_sm90)].matrix_flops_per_clock = x;
          return -estimate_us(s, t, kMatrixConfig, kMatrixMNK, kMatrixMNK, kMatrixMNK);
        });
  }
}

nlohmann::json to_json(const Calibration& c) {
  const auto& wg = c.machine.figures(compiler::Family::wgmma_sm90);
  return {{"dram_bytes_per_s", c.machine.dram_bytes_per_s},
          {"wgmma_matrix_flops_per_clock", wg.matrix_flops_per_clock},
          {"measured", {{"copy_bytes_per_s", c.copy_bytes_per_s}, {"matrix_us", c.matrix_us}}}};
}

// The calibration a record holds, over the arch's figures in `c`; false when it is not one.
bool from_json(const std::string& text, Calibration& c) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  const auto number = [&](const char* key, double& out) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return false;
    out = it->get<double>();
    return std::isfinite(out) && out > 0;
  };
  compiler::MachineModel m = c.machine;
  auto& wg = m.family[static_cast<int>(compiler::Family::wgmma_sm90)];
  if (!number("dram_bytes_per_s", m.dram_bytes_per_s) ||
      !number("wgmma_matrix_flops_per_clock", wg.matrix_flops_per_clock))
    return false;
  c.machine = m;
  if (const auto it = j.find("measured"); it != j.end() && it->is_object()) {
    c.copy_bytes_per_s = it->value("copy_bytes_per_s", 0.0);
    c.matrix_us = it->value("matrix_us", 0.0);
  }
  return true;
}

// The copy bandwidth, and (sm_90a) the compute-bound GEMM's per-call median, into `c`.
void measure(Context& ctx, Calibration& c) {
  ContextState& s = state_of(ctx);
  c.copy_bytes_per_s = copy_bandwidth(ctx, kCopyBytes, kCopies);
  if (compiler::arch_spec(s.target).matrix_flops(compiler::Family::wgmma_sm90) == 0) return;
  const std::int64_t n = kMatrixMNK, k = kMatrixMNK;
  const std::vector<std::uint8_t> w =
      compiler::random_fp8(s.target.fp8_format(), static_cast<std::size_t>(n * k), 0x5eed);
  const std::vector<float> ones(n, 1.0f);
  DeviceBuffer wd = ctx.alloc(w.size()), sw = ctx.alloc(ones.size() * 4);
  ctx.copy_to_device(wd.get(), w.data(), w.size());
  ctx.copy_to_device(sw.get(), ones.data(), ones.size() * 4);
  const PackedWeight pw = ctx.wrap_packed_weight(wd.get(), static_cast<const float*>(sw.get()), n,
                                                 k, compiler::native_layout(s.target));
  TuningBench bench(ctx, pw, kMatrixMNK, OutDType::bf16, false, 0x5eed);
  const Trial t = bench.run(kMatrixMNK, {compiler::GemmConfig::parse(kMatrixConfig, s.target)},
                            {.reps = 5, .min_calls = 8, .check_rows = 2, .check_columns = 8})
                      .front();
  if (!t.ok()) throw Error(std::string("calibration GEMM ") + kMatrixConfig + " failed: " + t.failure);
  c.matrix_us = t.us;
}

}  // namespace

double copy_bandwidth(Context& ctx, std::size_t bytes, int reps) {
  Driver& driver = *state_of(ctx).driver;
  DeviceBuffer src = ctx.alloc(bytes), dst = ctx.alloc(bytes);
  driver.memset(src.get(), 0x5a, bytes);
  driver.memset(dst.get(), 0, bytes);
  const auto copy = [&] { driver.copy_device_async(dst.get(), src.get(), bytes, nullptr); };
  copy();
  copy();
  std::vector<double> ms;
  for (int r = 0; r < std::max(reps, 1); ++r) ms.push_back(ctx.time_ms(nullptr, copy));
  std::sort(ms.begin(), ms.end());
  return 2.0 * double(bytes) / (ms[ms.size() / 2] * 1e-3);
}

std::string Calibration::summary() const {
  const auto& wg = machine.figures(compiler::Family::wgmma_sm90);
  const char* how = measured ? "measured" : "the arch's";
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "DRAM %.2f TB/s (%s), %d multiprocessors%s; load latency %.2f us, launch %.2f us "
                "(the arch's)",
                machine.dram_bytes_per_s * 1e-12, how, machine.multiprocessors,
                wg.matrix_flops_per_clock > 0
                    ? (", wgmma " + std::to_string(static_cast<int>(wg.matrix_flops_per_clock)) +
                       " flop/clock per multiprocessor (" + how + ")")
                          .c_str()
                    : "",
                machine.latency_s * 1e6, machine.launch_s * 1e6);
  return buf;
}

Calibration arch_calibration(const Context& ctx, std::string why) {
  const ContextState& s = state_of(ctx);
  Calibration c;
  c.machine = compiler::arch_spec(s.target).machine(s.device.cu_num);
  c.source = "the arch's figures (compiler/arch_spec.hpp): " + why;
  return c;
}

Calibration calibrate(Context& ctx) {
  ContextState& s = state_of(ctx);
  if (!s.driver->times_a_gpu())
    return arch_calibration(ctx, s.target.emulated
                                     ? "the CPU emulator, whose timings say nothing of a GPU"
                                     : "its driver (" + s.driver->name() + ") times no GPU");
  if (s.target.vendor != compiler::Vendor::nvidia)
    return arch_calibration(ctx, "no calibration for AMD GPUs yet (its GEMMs were never run on one)");
  Calibration c = arch_calibration(ctx, "");
  const std::string key = record_key(s);
  cache::CacheLayers* layers = s.builder->cache_layers();
  if (layers)
    if (auto hit = layers->load(s.target.str(), key)) {
      const std::string problem = cache::content_problem(hit->entry);
      if (problem.empty() && cache::entry_kind(hit->entry.meta) == cache::EntryKind::calibration &&
          from_json(std::string(hit->entry.binary.begin(), hit->entry.binary.end()), c)) {
        c.measured = true;
        c.source = "cache record " + key;
        return c;
      }
      layers->quarantine(hit->layer, s.target.str(), key,
                         "not a calibration record" + (problem.empty() ? "" : ": " + problem));
    }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    measure(ctx, c);
    fit(s, c);
    c.measured = true;
    char took[64];
    std::snprintf(took, sizeof took, "measured now in %.1f s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    c.source = took;
  } catch (const Error& e) {
    return arch_calibration(ctx, std::string("the measurement failed: ") + e.what());
  }
  if (layers && layers->can_store()) {
    const std::string text = to_json(c).dump(1) + "\n";
    const auto r = layers->store(cache::make_record(
        cache::EntryKind::calibration, key, s.target.str(),
        "calibration of " + s.device.str(), text,
        {{"library_version", library_version()}, {"created", util::utc_now_iso8601()}}));
    if (!r.ok()) c.source += " (not kept: " + r.error + ")";
  }
  return c;
}

}  // namespace fp8jit::runtime
