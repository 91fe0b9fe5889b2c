#include "select/heuristic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "compiler/arch_spec.hpp"
#include "util/arith.hpp"

namespace fp8jit::select {

// ---- M buckets -------------------------------------------------------------------------------

const std::vector<std::int64_t>& m_buckets() {
  static const std::vector<std::int64_t> bounds = [] {
    std::vector<std::int64_t> b;
    for (std::int64_t m = 1; m < kLargestBucketM; m *= 2) b.push_back(m);
    b.push_back(kUnboundedM);
    return b;
  }();
  return bounds;
}

int m_bucket_index(std::int64_t m) {
  const auto& b = m_buckets();
  int i = 0;
  while (i + 1 < static_cast<int>(b.size()) && m > b[i]) ++i;  // the last bucket is open
  return i;
}

std::int64_t m_bucket_m(std::int64_t m) {
  std::int64_t p = 1;
  while (p < m && p < kLargestBucketM) p *= 2;
  return p;
}

// ---- cost model ------------------------------------------------------------------------------

namespace {

// Seconds to move the bytes (once from DRAM, or the weight once per token tile where
// `weight_passes` says so; every token tile re-reads its weight slice and every n-tile the
// tokens, from L2 at best), slowed by the loads in flight falling short.
double memory_seconds(const compiler::ArchSpec& arch, const GemmEstimate& e, std::int64_t n,
                      std::int64_t k, std::int64_t tiles_m, std::int64_t tiles_n,
                      std::int64_t weight_passes) {
  const double mk = static_cast<double>(e.m) * static_cast<double>(k);
  const double nk = static_cast<double>(n) * static_cast<double>(k);
  const double dram = nk * static_cast<double>(weight_passes) + mk +
                      2.0 * static_cast<double>(e.m) * static_cast<double>(n);
  const double l2 = nk * static_cast<double>(tiles_m) + mk * static_cast<double>(tiles_n);
  return std::max(dram / arch.dram_bytes_per_s, l2 / arch.l2_bytes_per_s) / e.memory_parallelism;
}

// One model for every family: the family says how many blocks of a config fit on a
// multiprocessor and what they keep in flight, load and compute (compiler/families/); the grid,
// the waves and the times of memory, L1 loads and matrix units follow the same way for all.
GemmEstimate estimate(const compiler::ArchSpec& arch, int multiprocessors, std::int64_t m,
                      std::int64_t n, std::int64_t k, const compiler::GemmConfig& c) {
  const compiler::GemmFamily& family = compiler::family(c.family);
  GemmEstimate e;
  e.config = c;
  e.m = std::max<std::int64_t>(m, 1);
  e.multiprocessors = multiprocessors > 0 ? multiprocessors : arch.multiprocessors;
  const compiler::Occupancy occupancy = family.occupancy(arch, c);
  e.registers = occupancy.registers;
  e.blocks_per_sm = occupancy.blocks_per_multiprocessor;

  // The grid: blocks, waves over the resident slots, how full the last wave and the edge tiles
  // are.
  const int bm = std::max(1, c.bm), bn = std::max(1, c.bn);
  const std::int64_t tiles_m = util::ceil_div(e.m, bm), tiles_n = util::ceil_div(n, bn);
  const std::int64_t slots = static_cast<std::int64_t>(e.multiprocessors) * e.blocks_per_sm;
  e.blocks = tiles_m * tiles_n * occupancy.blocks_per_tile;
  e.waves = util::ceil_div(e.blocks, slots);
  e.wave_efficiency = static_cast<double>(e.blocks) / static_cast<double>(e.waves * slots);
  e.tile_efficiency = static_cast<double>(e.m) * static_cast<double>(n) /
                      (static_cast<double>(tiles_m * c.bm) * static_cast<double>(tiles_n * c.bn));
  const double padded_m = static_cast<double>(tiles_m * bm);
  const double padded_n = static_cast<double>(tiles_n * bn);

  compiler::CostGrid grid;
  grid.m = e.m, grid.n = n, grid.k = k;
  grid.tiles_m = tiles_m, grid.tiles_n = tiles_n;
  grid.waves = e.waves;
  grid.resident_blocks = static_cast<double>(std::min(e.blocks, slots));
  grid.multiprocessors = e.multiprocessors;
  const compiler::CostTerms terms = family.cost_terms(arch, c, grid);

  e.memory_parallelism =
      std::min(1.0, terms.bytes_in_flight / (arch.dram_bytes_per_s * arch.latency_s));
  const double t_mem = memory_seconds(arch, e, n, k, tiles_m, tiles_n, terms.weight_passes);
  const double active_sms = std::min<double>(static_cast<double>(e.blocks), e.multiprocessors);
  const double t_l1 = terms.l1_bytes / (arch.l1_bytes_per_s * active_sms);
  const double t_mma = 2.0 * padded_m * padded_n * static_cast<double>(k) / terms.matrix_flops;
  double t = std::max({t_mem, t_l1, t_mma});
  e.bound = t == t_mem ? "memory" : t == t_l1 ? "load" : "compute";
  if (e.waves > 1) t /= e.wave_efficiency;  // the last wave runs as long as a full one
  t += terms.pipeline_seconds;
  e.estimated_us = t * 1e6;
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

GemmEstimate estimate_gemm(const compiler::Target& target, int multiprocessors, std::int64_t m,
                           std::int64_t n, std::int64_t k, const compiler::GemmConfig& config) {
  return estimate(compiler::arch_spec(target), multiprocessors, m, n, k, config);
}

std::vector<GemmEstimate> rank_configs(const compiler::Target& target, int multiprocessors,
                                       std::int64_t m, std::int64_t n, std::int64_t k) {
  const compiler::ArchSpec& arch = compiler::arch_spec(target);
  const std::int64_t bm = m_bucket_m(m);
  std::vector<GemmEstimate> out;
  for (const auto& c : candidates(target, bm, k))
    out.push_back(estimate(arch, multiprocessors, bm, n, k, c));
  std::stable_sort(out.begin(), out.end(), better);
  return out;
}

compiler::GemmConfig heuristic_config(const compiler::Target& target, int multiprocessors,
                                      std::int64_t m, std::int64_t n, std::int64_t k) {
  const compiler::ArchSpec& arch = compiler::arch_spec(target);
  const std::int64_t bm = m_bucket_m(m);
  std::optional<GemmEstimate> best;
  for (const auto& c : candidates(target, bm, k)) {
    GemmEstimate e = estimate(arch, multiprocessors, bm, n, k, c);
    if (!best || better(e, *best)) best = std::move(e);
  }
  return best->config;  // candidates() is never empty
}

}  // namespace fp8jit::select
