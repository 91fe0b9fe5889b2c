#include "select/heuristic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "compiler/arch_spec.hpp"
#include "util/arith.hpp"

namespace fp8jit::select {

// ---- M buckets -------------------------------------------------------------------------------

const std::vector<std::int64_t>& m_buckets() {
  static const std::vector<std::int64_t> bounds = [] {
    std::vector<std::int64_t> b = {1, 2, 4};
    for (std::int64_t p = 8; p < kLargestBucketM; p *= 2) b.insert(b.end(), {p, p + p / 2});
    b.push_back(kUnboundedM);  // (12288, inf): its M is kLargestBucketM
    return b;
  }();
  return bounds;
}

int m_bucket_index(std::int64_t m) {
  const auto& b = m_buckets();
  return static_cast<int>(std::lower_bound(b.begin(), b.end() - 1, std::max<std::int64_t>(m, 1)) -
                          b.begin());  // the last bucket is open
}

std::int64_t m_bucket_m(std::int64_t m) {
  return std::min(m_buckets()[m_bucket_index(m)], kLargestBucketM);
}

// ---- cost model ------------------------------------------------------------------------------

namespace {

// One model for every family: the family lays out its grid and says what the busiest
// multiprocessor loads, keeps in flight, computes and does besides its main loop
// (compiler/families/); the time follows the same way for all:
//   launch + max(DRAM, multiprocessor memory, L1 loads, matrix, chain) + fixed
// where a multiprocessor pulls its bytes at the lesser of its ceiling and its bytes in flight
// per latency (Little's law).
GemmEstimate estimate(const compiler::ArchSpec& arch, const compiler::MachineModel& machine,
                      std::int64_t m, std::int64_t n, std::int64_t k,
                      const compiler::GemmConfig& c) {
  const compiler::GemmFamily& family = compiler::family(c.family);
  GemmEstimate e;
  e.config = c;
  e.m = std::max<std::int64_t>(m, 1);
  e.multiprocessors = machine.multiprocessors;
  e.registers = family.occupancy(arch, c).registers;
  const compiler::CostGrid g = family.cost_grid(arch, machine, c, e.m, n, k);
  e.blocks = g.blocks;
  e.blocks_per_sm = g.resident;
  e.waves = util::ceil_div(g.items, g.resident);
  e.wave_efficiency = static_cast<double>(g.work) /
                      (static_cast<double>(e.waves) * g.resident * machine.multiprocessors);
  e.tile_efficiency = static_cast<double>(e.m) * static_cast<double>(n) /
                      (static_cast<double>(g.tiles_m * c.bm) * static_cast<double>(g.tiles_n * c.bn));
  const compiler::CostTerms t = family.cost_terms(arch, machine, c, g);

  const double covered = machine.sm_bytes_per_s * machine.latency_s;
  e.memory_parallelism = std::min(1.0, t.sm_bytes_in_flight / covered);
  const double sm_rate =
      std::min(machine.sm_bytes_per_s, t.sm_bytes_in_flight / machine.latency_s);
  const double nk = static_cast<double>(n) * static_cast<double>(k);
  const double dram_bytes = nk * static_cast<double>(t.weight_passes) +
                            static_cast<double>(e.m) * static_cast<double>(k) +
                            2.0 * static_cast<double>(e.m) * static_cast<double>(n);
  const double t_dram = dram_bytes / machine.dram_bytes_per_s;
  const double t_sm = t.sm_bytes / sm_rate;
  const double t_mem = std::max(t_dram, t_sm);
  const double main_loop = std::max({t_mem, t.sm_l1_s, t.sm_matrix_s, t.chain_s});
  e.bound = main_loop == t_mem           ? "memory"
            : main_loop == t.sm_l1_s     ? "load"
            : main_loop == t.sm_matrix_s ? "compute"
                                         : "latency";
  e.estimated_us = (machine.launch_s + main_loop + t.fixed_s) * 1e6;
  return e;
}

// The configs the heuristic considers: each family's of the arch in turn, in its preference
// order for ties. Never empty: every family offers its smallest tile at one warp.
std::vector<compiler::GemmConfig> candidates(const compiler::Target& target, std::int64_t bucket_m,
                                             std::int64_t k) {
  std::vector<compiler::GemmConfig> out;
  for (const compiler::FamilyRate& f : compiler::arch_spec(target).families())
    compiler::family(f.family).candidates(target, bucket_m, k, out);
  return out;
}

// Ranking: estimated time quantized to 0.1 ns so that equal predictions tie exactly; at equal
// time, less padding (no idle warps past N), then the config spread over more multiprocessors;
// then the candidate order. NOTE: quantized in double, not long long: at the largest M, N, K the
// limits allow, a time in units of 0.1 ns exceeds the range of a 64-bit integer.
bool better(const GemmEstimate& a, const GemmEstimate& b) {
  const double ta = std::round(a.estimated_us * 1e4), tb = std::round(b.estimated_us * 1e4);
  if (ta != tb) return ta < tb;
  const double ea = std::round(a.tile_efficiency * 1e6), eb = std::round(b.tile_efficiency * 1e6);
  if (ea != eb) return ea > eb;
  return std::min<std::int64_t>(a.blocks, a.multiprocessors) >
         std::min<std::int64_t>(b.blocks, b.multiprocessors);
}

}  // namespace

std::string GemmEstimate::summary() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "%lld blocks, %d per multiprocessor, waves %lld (%.0f%% full), tile efficiency "
                "%.0f%%, memory parallelism %.0f%%, %s-bound, ~%d registers, ~%.1f us",
                static_cast<long long>(blocks), blocks_per_sm, static_cast<long long>(waves),
                100 * wave_efficiency, 100 * tile_efficiency, 100 * memory_parallelism,
                bound, registers, estimated_us);
  return buf;
}

GemmEstimate estimate_gemm(const compiler::Target& target, const compiler::MachineModel& machine,
                           std::int64_t m, std::int64_t n, std::int64_t k,
                           const compiler::GemmConfig& config) {
  return estimate(compiler::arch_spec(target), machine, m, n, k, config);
}

GemmEstimate estimate_gemm(const compiler::Target& target, int multiprocessors, std::int64_t m,
                           std::int64_t n, std::int64_t k, const compiler::GemmConfig& config) {
  return estimate_gemm(target, compiler::arch_spec(target).machine(multiprocessors), m, n, k, config);
}

std::vector<std::int64_t> bucket_sample_ms(std::int64_t m) {
  const int i = m_bucket_index(m);
  const std::int64_t top = m_bucket_m(m);
  const std::int64_t bottom = i == 0 ? 1 : m_buckets()[i - 1] + 1;
  std::vector<std::int64_t> out;
  if (bottom < top) out.push_back(bottom);
  if (const std::int64_t mid = (bottom + top) / 2; bottom < mid && mid < top) out.push_back(mid);
  return out;
}

std::vector<GemmEstimate> rank_configs(const compiler::Target& target,
                                       const compiler::MachineModel& machine, std::int64_t m,
                                       std::int64_t n, std::int64_t k) {
  const compiler::ArchSpec& arch = compiler::arch_spec(target);
  const std::int64_t bm = m_bucket_m(m);
  std::vector<GemmEstimate> out;
  for (const auto& c : candidates(target, bm, k)) out.push_back(estimate(arch, machine, bm, n, k, c));
  std::stable_sort(out.begin(), out.end(), better);

  // The bucket's config serves every M in it: among the candidates about as fast as the best at
  // the bucket's M, the one whose worst regret over the bucket's lower M is least goes first.
  const double limit = out.front().estimated_us * (1 + kBucketSlack);
  const auto close = static_cast<std::size_t>(
      std::find_if(out.begin(), out.end(),
                   [&](const GemmEstimate& e) { return e.estimated_us > limit; }) -
      out.begin());
  if (close < 2) return out;
  for (std::size_t i = 0; i < close; ++i) out[i].bucket_regret = 1;
  for (const std::int64_t sm : bucket_sample_ms(m)) {
    double best = 0;
    std::vector<double> times(close);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const double t = estimate(arch, machine, sm, n, k, out[i].config).estimated_us;
      if (i < close) times[i] = t;
      if (i == 0 || t < best) best = t;
    }
    for (std::size_t i = 0; i < close; ++i)
      out[i].bucket_regret = std::max(out[i].bucket_regret, times[i] / best);
  }
  // Regrets quantized to 0.1%, so that equal ones keep the order by estimate.
  std::stable_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(close),
                   [](const GemmEstimate& a, const GemmEstimate& b) {
                     return std::round(a.bucket_regret * 1e3) < std::round(b.bucket_regret * 1e3);
                   });
  return out;
}

std::vector<GemmEstimate> rank_configs(const compiler::Target& target, int multiprocessors,
                                       std::int64_t m, std::int64_t n, std::int64_t k) {
  return rank_configs(target, compiler::arch_spec(target).machine(multiprocessors), m, n, k);
}

compiler::GemmConfig heuristic_config(const compiler::Target& target,
                                      const compiler::MachineModel& machine, std::int64_t m,
                                      std::int64_t n, std::int64_t k) {
  return rank_configs(target, machine, m, n, k).front().config;  // never empty
}

compiler::GemmConfig heuristic_config(const compiler::Target& target, int multiprocessors,
                                      std::int64_t m, std::int64_t n, std::int64_t k) {
  return heuristic_config(target, compiler::arch_spec(target).machine(multiprocessors), m, n, k);
}

}  // namespace fp8jit::select
