#include "runtime/autotuner.hpp"

#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <set>

#include "cache/binary_check.hpp"
#include "runtime/calibration.hpp"
#include "runtime/context_state.hpp"
#include "runtime/tuning_bench.hpp"
#include "select/autotune.hpp"
#include "select/heuristic.hpp"

namespace fp8jit::runtime {

namespace {

using select::ConfigChoice;

// How long a process waits for another that is tuning the same point (then tunes it itself).
constexpr std::chrono::milliseconds kTuneLockTimeout{60'000};

select::TunedPoint point_of(const ContextState& s, const PackedWeight& w, std::int64_t m,
                            OutDType out, bool bias) {
  return {s.target, s.device, w.n(), w.k(), select::m_bucket_m(m), out, bias};
}

ConfigChoice from_row(const select::TunedRow& row, std::int64_t m, const std::string& how) {
  ConfigChoice c;
  c.config = row.config;
  c.source = ConfigChoice::Source::autotuned;
  c.m = m;
  c.bucket_m = row.m;
  c.cu_num = row.cu_num;
  c.this_device = true;
  char us[32];
  std::snprintf(us, sizeof us, "%.2f us", row.us);
  c.rule = how + " (" + row.config.str() + ", " + us + " at M=" + std::to_string(row.m) + ")";
  return c;
}

// This device's row of `p` that the autotuner keeps in the cache layers; a record that does not
// check (damaged, or for another point) is set aside and is no row.
std::optional<select::TunedRow> cached_row(ContextState& s, const select::TunedPoint& p) {
  cache::CacheLayers* layers = s.builder->cache_layers();
  if (!layers) return std::nullopt;
  const std::string key = select::tuned_row_key(p);
  auto hit = layers->load(p.target.str(), key);
  if (!hit) return std::nullopt;
  std::string problem = cache::content_problem(hit->entry);
  if (problem.empty() && cache::entry_kind(hit->entry.meta) != cache::EntryKind::tuned_row)
    problem = "not a tuned row";
  if (problem.empty()) {
    try {
      return select::parse_tuned_row_record(hit->entry, p);
    } catch (const InvalidArgument& e) {
      problem = e.what();
    }
  }
  layers->quarantine(hit->layer, p.target.str(), key, problem);
  return std::nullopt;
}

// Whether the process may spend more time tuning; warns once when it may not.
bool budget_left(ContextState& s) {
  std::unique_lock lock(s.chosen_mu);
  if (s.autotune_spent_s < s.options.autotune_budget_s) return true;
  if (!s.autotune_budget_warned) {
    s.autotune_budget_warned = true;
    std::fprintf(stderr,
                 "fp8jit: warning: autotuning stopped: this process spent %.0f s of its %.0f s "
                 "(FP8JIT_AUTOTUNE_BUDGET); the cost model chooses the remaining points\n",
                 s.autotune_spent_s, s.options.autotune_budget_s);
  }
  return false;
}

// Measures `p` on `w` now and keeps the fastest candidate as a record; nullopt when no candidate
// passes its check.
std::optional<ConfigChoice> tune(Context& ctx, const PackedWeight& w, const select::TunedPoint& p,
                                 std::int64_t m, const compiler::MachineModel& machine) {
  ContextState& s = state_of(ctx);
  cache::CacheLayers* layers = s.builder->cache_layers();
  const std::string key = select::tuned_row_key(p);
  // One process tunes a point at a time; the others wait for its record.
  cache::DiskStore::KeyLock lock;
  if (layers && layers->can_store() &&
      layers->writable()->lock_key(p.target.str(), key, kTuneLockTimeout, lock) ==
          cache::DiskStore::LockOutcome::acquired)
    if (auto row = cached_row(s, p)) return from_row(*row, m, "autotuned row kept in the cache by another process");

  const auto t0 = std::chrono::steady_clock::now();
  ctx.synchronize(nullptr);  // the weight may still be being packed on another stream
  const auto configs = select::tuning_candidates(s.tuned, s.target, s.device, p.m, p.n, p.k,
                                                 p.out, p.bias, s.options.autotune_candidates,
                                                 &machine);
  std::optional<select::TunedRow> best;
  int failed = 0;
  {
    TuningBench bench(ctx, w, p.m, p.out, p.bias, std::random_device{}());
    const TrialBudget budget{.reps = 3, .min_calls = 4, .jobs = 0, .check_rows = 3,
                             .check_columns = 16, .abandon_ratio = 1.3};
    for (const Trial& t : bench.run(p.m, configs, budget)) {
      failed += !t.ok();
      if (t.ok() && (!best || t.us < best->us)) {
        best.emplace();
        best->config = t.config;
        best->us = t.us;
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  {
    std::unique_lock guard(s.chosen_mu);
    s.autotune_spent_s += seconds;
  }
  if (!best) return std::nullopt;
  best->target = p.target, best->cu_num = p.device.cu_num, best->device = p.device.name;
  best->mem_bw = p.device.mem_bw, best->m = p.m, best->n = p.n, best->k = p.k;
  best->out = p.out, best->bias = p.bias;
  std::string kept = "not kept: no writable cache";
  if (layers && layers->can_store()) {
    const auto r = layers->store(select::tuned_row_record(p, best->config, best->us));
    kept = r.ok() ? "kept as cache record " + key : "not kept: " + r.error;
  }
  char how[192];
  std::snprintf(how, sizeof how, "autotuned now: the fastest of %zu candidates (%d not timed) in %.2f s, ",
                configs.size(), failed, seconds);
  return from_row(*best, m, how + kept);
}

}  // namespace

const compiler::MachineModel& machine_of(Context& ctx, void* stream) {
  ContextState& s = state_of(ctx);
  if (s.machine_ready.load(std::memory_order_acquire)) return s.machine;
  std::lock_guard lock(s.machine_mu);
  if (!s.machine_ready.load(std::memory_order_relaxed)) {
    // A capture forbids the measuring launches: the arch's figures serve until a later call.
    const bool defer = s.options.calibrate && s.driver->is_capturing(stream);
    const Calibration c =
        !s.options.calibrate ? arch_calibration(ctx, "FP8JIT_CALIBRATE=0")
        : defer ? arch_calibration(ctx, "a stream capture is in progress (measured on a later call)")
                : calibrate(ctx);
    s.machine = c.machine;
    s.machine_source = c.source;
    s.machine_summary = c.summary();
    if (!defer) s.machine_ready.store(true, std::memory_order_release);
  }
  return s.machine;
}

void build_candidates(Context& ctx, const PackedWeight& w, const std::vector<std::int64_t>& ms,
                      OutDType out, bool bias) {
  ContextState& s = state_of(ctx);
  if (!s.options.autotune) return;
  const compiler::MachineModel& machine = machine_of(ctx, nullptr);
  std::vector<compiler::KernelSpec> specs;
  std::set<std::string> seen;
  for (const std::int64_t m : ms) {
    const auto row = s.tuned.select_row(s.target, s.device, m, w.n(), w.k(), out, bias);
    if ((row && row->this_device) || cached_row(s, point_of(s, w, m, out, bias))) continue;
    for (const auto& c : select::tuning_candidates(s.tuned, s.target, s.device, select::m_bucket_m(m),
                                                   w.n(), w.k(), out, bias,
                                                   s.options.autotune_candidates, &machine)) {
      compiler::KernelSpec spec = compiler::gemm_spec(s.target, w.n(), w.k(), c, out, bias);
      if (seen.insert(spec.canonical()).second) specs.push_back(std::move(spec));
    }
  }
  jit::build_all(*s.builder, specs);  // a failure is reported by the tuner, with its candidate
}

select::ConfigChoice choose_config(Context& ctx, const PackedWeight& w, std::int64_t m,
                                   OutDType out, bool bias, void* stream) {
  ContextState& s = state_of(ctx);
  // The model (and the device's calibration) only where no row of this device answers.
  const std::optional<ConfigChoice> row =
      s.tuned.select_row(s.target, s.device, m, w.n(), w.k(), out, bias);
  if (row && (row->this_device || row->source == ConfigChoice::Source::exact_row)) return *row;

  const auto memo_key = std::make_tuple(w.n(), w.k(), select::m_bucket_m(m), int(out), bias);
  {
    std::shared_lock lock(s.chosen_mu);
    if (const auto it = s.chosen.find(memo_key); it != s.chosen.end()) return it->second;
  }
  const select::TunedPoint p = point_of(s, w, m, out, bias);
  std::optional<ConfigChoice> found;
  if (auto kept = cached_row(s, p)) found = from_row(*kept, m, "autotuned row kept in the cache");
  const bool capturing = s.driver->is_capturing(stream);
  if (!found && s.options.autotune && !capturing && budget_left(s))
    found = tune(ctx, w, p, m, machine_of(ctx, stream));
  const ConfigChoice c =
      found ? *found
      : row ? *row
            : s.tuned.select(s.target, s.device, m, w.n(), w.k(), out, bias, &machine_of(ctx, stream));
  // A capture only postpones the measurement: that answer is not remembered.
  if (found || !(s.options.autotune && capturing)) {
    std::unique_lock lock(s.chosen_mu);
    s.chosen.emplace(memo_key, c);
  }
  return c;
}

}  // namespace fp8jit::runtime
