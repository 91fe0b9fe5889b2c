#include "runtime/calibration.hpp"

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

// The four measurements: shapes and the configs that run them (valid for every NVIDIA arch with
// fp8 matrix instructions; the wgmma one on sm_90a).
constexpr std::int64_t kStreamN = 32768, kSmallK = 2048, kLargeK = 8192;  // 64 and 256 MiB
constexpr const char* kStreamConfig = "bm8_bn64_bk128_w4_s2_k1";
constexpr std::int64_t kLatencyK = 32768;  // N = 16 per multiprocessor: one warp each
constexpr const char* kLatencyConfig = "bm8_bn16_bk32_w1_s1_k1";
constexpr std::int64_t kMatrixMNK = 4096;
constexpr const char* kMatrixConfig = "wg_bm128_bn256_bk128_w8_s4_k1";

std::string library_version() { return std::string(FP8JIT_VERSION) + "+" + build_id(); }

std::string record_key(const ContextState& s) {
  std::string text = "fp8jit calibration, format 1\n";
  for (const std::string& f : {s.target.str(), s.device.name, std::to_string(s.device.cu_num),
                               std::to_string(s.device.mem_bw), s.driver->name(), library_version()})
    text += std::to_string(f.size()) + ":" + f + "\n";
  return cache::hash_hex(text);
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

// Fits the device's figures so that the model reproduces the four measurements.
void fit(const ContextState& s, Calibration& c) {
  compiler::MachineModel& m = c.machine;
  const double small = double(kStreamN) * kSmallK, large = double(kStreamN) * kLargeK;
  m.dram_bytes_per_s = (large - small) / ((c.stream_large_us - c.stream_small_us) * 1e-6);
  const std::int64_t lat_n = 16 * std::int64_t{m.multiprocessors};
  for (int round = 0; round < 3; ++round) {  // the figures touch each other's estimates a little
    m.launch_s = solve(1e-8, 1e-4, c.stream_small_us, [&](double x) {
      compiler::MachineModel t = m;
      t.launch_s = x;
      return estimate_us(s, t, kStreamConfig, 1, kStreamN, kSmallK);
    });
    m.latency_s = solve(1e-8, 1e-4, c.latency_us, [&](double x) {
      compiler::MachineModel t = m;
      t.latency_s = x;
      return estimate_us(s, t, kLatencyConfig, 1, lat_n, kLatencyK);
    });
    if (c.matrix_us > 0) {
      auto& wg = m.family[static_cast<int>(compiler::Family::wgmma_sm90)];
      wg.matrix_flops_per_clock = solve(100, 1e6, -c.matrix_us, [&](double x) {
        compiler::MachineModel t = m;
        t.family[static_cast<int>(compiler::Family::wgmma_sm90)].matrix_flops_per_clock = x;
        return -estimate_us(s, t, kMatrixConfig, kMatrixMNK, kMatrixMNK, kMatrixMNK);
      });
    }
  }
}

nlohmann::json to_json(const Calibration& c) {
  const auto& wg = c.machine.figures(compiler::Family::wgmma_sm90);
  return {{"dram_bytes_per_s", c.machine.dram_bytes_per_s},
          {"latency_s", c.machine.latency_s},
          {"launch_s", c.machine.launch_s},
          {"wgmma_matrix_flops_per_clock", wg.matrix_flops_per_clock},
          {"measured_us",
           {{"stream_64MiB", c.stream_small_us},
            {"stream_256MiB", c.stream_large_us},
            {"latency", c.latency_us},
            {"matrix", c.matrix_us}}}};
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
  if (!number("dram_bytes_per_s", m.dram_bytes_per_s) || !number("latency_s", m.latency_s) ||
      !number("launch_s", m.launch_s) ||
      !number("wgmma_matrix_flops_per_clock", wg.matrix_flops_per_clock))
    return false;
  c.machine = m;
  if (const auto it = j.find("measured_us"); it != j.end() && it->is_object()) {
    c.stream_small_us = it->value("stream_64MiB", 0.0);
    c.stream_large_us = it->value("stream_256MiB", 0.0);
    c.latency_us = it->value("latency", 0.0);
    c.matrix_us = it->value("matrix", 0.0);
  }
  return true;
}

// Runs the four GEMMs; the per-call medians go into `c`.
void measure(Context& ctx, Calibration& c) {
  ContextState& s = state_of(ctx);
  const std::size_t bytes = static_cast<std::size_t>(kStreamN * kLargeK);
  // A random 64 MiB block repeated four times: the largest weight, and the others inside it.
  std::mt19937_64 rng(0x5eed);
  const std::vector<std::uint8_t> block = compiler::random_fp8(s.target.fp8_format(), bytes / 4, rng());
  DeviceBuffer w = ctx.alloc(bytes);
  for (int q = 0; q < 4; ++q)
    ctx.copy_to_device(static_cast<std::uint8_t*>(w.get()) + q * block.size(), block.data(),
                       block.size());
  const std::vector<float> ones(kStreamN, 1.0f);
  DeviceBuffer sw = ctx.alloc(ones.size() * 4);
  ctx.copy_to_device(sw.get(), ones.data(), ones.size() * 4);
  const auto layout = compiler::native_layout(s.target);

  const TrialBudget budget{.reps = 5, .min_calls = 8, .jobs = 0, .check_rows = 2,
                           .check_columns = 8};
  auto time = [&](std::int64_t m, std::int64_t n, std::int64_t k, const char* config) {
    const PackedWeight pw =
        ctx.wrap_packed_weight(w.get(), static_cast<const float*>(sw.get()), n, k, layout);
    TuningBench bench(ctx, pw, m, OutDType::bf16, false, rng());
    const Trial t = bench.run(m, {compiler::GemmConfig::parse(config, s.target)}, budget).front();
    if (!t.ok()) throw Error(std::string("calibration GEMM ") + config + " failed: " + t.failure);
    return t.us;
  };
  c.stream_small_us = time(1, kStreamN, kSmallK, kStreamConfig);
  c.stream_large_us = time(1, kStreamN, kLargeK, kStreamConfig);
  c.latency_us = time(1, 16 * std::int64_t{c.machine.multiprocessors}, kLatencyK, kLatencyConfig);
  if (compiler::arch_spec(s.target).matrix_flops(compiler::Family::wgmma_sm90) > 0)
    c.matrix_us = time(kMatrixMNK, kMatrixMNK, kMatrixMNK, kMatrixConfig);
}

}  // namespace

std::string Calibration::summary() const {
  char buf[256];
  const auto& wg = machine.figures(compiler::Family::wgmma_sm90);
  std::snprintf(buf, sizeof buf,
                "DRAM %.2f TB/s, load latency %.2f us, launch %.2f us, %d multiprocessors%s",
                machine.dram_bytes_per_s * 1e-12, machine.latency_s * 1e6, machine.launch_s * 1e6,
                machine.multiprocessors,
                wg.matrix_flops_per_clock > 0
                    ? (", wgmma " + std::to_string(static_cast<int>(wg.matrix_flops_per_clock)) +
                       " flop/clock per multiprocessor")
                          .c_str()
                    : "");
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
