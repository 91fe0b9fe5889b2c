#include "select/heuristic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

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

// ---- machine model ---------------------------------------------------------------------------

namespace {

// Rough public figures of each arch; only their ratios matter for ranking configs.
struct Machine {
  int multiprocessors;
  double dram_bytes_per_s;
  double l2_bytes_per_s;
  double l2_bytes;          // last-level cache capacity (AMD: the Infinity Cache)
  double mma_flops;         // fp8 matrix throughput of the instructions the family uses
  double latency_s;         // global-load latency to cover with loads in flight
  double l1_bytes_per_s;    // load throughput of one multiprocessor's L1
  int lanes;                // threads per warp / wave
  int frag_m, lanes_k;      // tokens per fragment, k per fragment step (as validate states)
  int register_files;       // register files per multiprocessor (NVIDIA 1, AMD 4 SIMDs)
  int registers_per_lane;   // registers of one file available to one lane slot
  int max_warps_per_file;
  int max_blocks;
  int register_limit;       // more than this per thread spills
  bool wgmma = false;       // sm_90a: the wgmma_sm90 family is available
  double wgmma_flops = 0;   // its fp8 matrix throughput
};

Machine machine_of(const compiler::Target& t) {
  const bool amd = t.vendor == compiler::Vendor::amd;
  Machine m{};
  m.lanes = amd ? 64 : 32;
  m.frag_m = amd ? 16 : 8;
  m.lanes_k = amd ? 64 : 32;
  if (amd) {
    m.register_files = 4;
    m.registers_per_lane = 512;
    m.max_warps_per_file = 8;
    m.max_blocks = 32;
    m.register_limit = 256;
    m.latency_s = 1.0e-6;
    m.l1_bytes_per_s = 64 * 2.1e9;
    if (t.arch == "gfx950") {
      m.multiprocessors = 256, m.dram_bytes_per_s = 8.0e12, m.l2_bytes_per_s = 20e12;
      m.mma_flops = 2300e12, m.l2_bytes = 256e6;
    } else {
      m.multiprocessors = t.arch == "gfx942" ? 304 : 104;
      m.dram_bytes_per_s = 5.3e12, m.l2_bytes_per_s = 14e12, m.mma_flops = 1300e12;
      m.l2_bytes = t.arch == "gfx942" ? 256e6 : 8e6;
    }
  } else {
    m.register_files = 1;
    m.registers_per_lane = 65536 / 32;
    m.register_limit = 255;
    m.latency_s = 0.7e-6;
    m.l1_bytes_per_s = 128 * 1.75e9;
    if (t.arch == "sm_89") {
      m.multiprocessors = 128, m.dram_bytes_per_s = 1.0e12, m.l2_bytes_per_s = 5e12;
      m.mma_flops = 330e12, m.max_warps_per_file = 48, m.max_blocks = 24, m.l2_bytes = 48e6;
    } else {
      m.multiprocessors = 132, m.dram_bytes_per_s = 3.35e12, m.l2_bytes_per_s = 10e12;
      m.mma_flops = 600e12, m.max_warps_per_file = 64, m.max_blocks = 32, m.l2_bytes = 50e6;
      m.wgmma = t.arch == "sm_90a";
      m.wgmma_flops = 1300e12;  // dense fp8 wgmma as cuBLASLt reaches it at 8192^3
    }
  }
  return m;
}

// a / b rounded up, for a >= 0, b > 0, without forming a + b - 1 (no overflow near INT64_MAX).
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return a / b + (a % b != 0); }

// The registers per thread of the family's main loop: accumulators, the weight (and, for AMD,
// token) fragments of every stage, and a fixed share for addresses, scales and the epilogue.
int registers_of(const Machine& mc, const compiler::GemmConfig& c) {
  const int fn = std::max(1, c.bn / (16 * std::max(1, c.warps)));
  const int fm = std::max(1, c.bm / mc.frag_m);
  const int ku = std::max(1, c.bk / mc.lanes_k);
  const int token_words = mc.lanes == 64 ? 4 : 2;  // A-fragment words per token fragment
  return 40 + 4 * fn * fm + std::max(1, c.stages) * ku * (4 * fn + token_words * fm);
}

// The grid of a config: blocks, waves over `slots` resident blocks, how full the last wave and
// the edge tiles are.
void set_grid(GemmEstimate& e, std::int64_t n, std::int64_t tiles_m, std::int64_t tiles_n,
              std::int64_t slots) {
  const auto& c = e.config;
  e.blocks = tiles_m * tiles_n;
  e.waves = ceil_div(e.blocks, slots);
  e.wave_efficiency = static_cast<double>(e.blocks) / static_cast<double>(e.waves * slots);
  e.tile_efficiency = static_cast<double>(e.m) * static_cast<double>(n) /
                      (static_cast<double>(tiles_m * c.bm) * static_cast<double>(tiles_n * c.bn));
}

// Seconds to move the bytes (once from DRAM, or the weight once per token tile where
// `weight_passes` says so; every token tile re-reads its weight slice and every n-tile the
// tokens, from L2 at best), slowed by the loads in flight falling short.
double memory_seconds(const Machine& mc, const GemmEstimate& e, std::int64_t n, std::int64_t k,
                      std::int64_t tiles_m, std::int64_t tiles_n, std::int64_t weight_passes = 1) {
  const double mk = static_cast<double>(e.m) * static_cast<double>(k);
  const double nk = static_cast<double>(n) * static_cast<double>(k);
  const double dram = nk * static_cast<double>(weight_passes) + mk +
                      2.0 * static_cast<double>(e.m) * static_cast<double>(n);
  const double l2 = nk * static_cast<double>(tiles_m) + mk * static_cast<double>(tiles_n);
  return std::max(dram / mc.dram_bytes_per_s, l2 / mc.l2_bytes_per_s) / e.memory_parallelism;
}

// wgmma_sm90 (templates/gemm_sm90.cuh): accumulators FW x bm / 2, the weight fragments of two
// stages (32 FW) and some 30 more; ptxas caps a thread at 168 registers with two consumer
// warpgroups (384 threads). Measured with NVRTC 13.0 (tests/compiler/test_nvrtc.cpp): the
// configs KernelSpec::validate accepts (FW x bm <= 256, bm <= 128) compile without spills,
// except a split-K cluster whose CTAs move registers (candidates() leaves those out).
int wgmma_registers(const compiler::GemmConfig& c) {
  const int fw = std::max(1, c.bn / (16 * std::max(4, c.warps)));
  return fw * c.bm / 2 + 32 * fw + 30;
}

// TMA keeps stages x (bm + bn) x 128 bytes in flight per block; as many blocks share a
// multiprocessor as its shared memory and threads allow (one where the config moves registers).
// split_k CTAs of a cluster take one tile's k-range each: more blocks stream a narrow N. The
// matrix units run at full rate with two consumer warpgroups and lose about a third with one.
GemmEstimate estimate_wgmma(const Machine& mc, GemmEstimate e, std::int64_t n, std::int64_t k) {
  const auto& c = e.config;
  e.registers = wgmma_registers(c);
  const long shared = compiler::wgmma_launch_shared_bytes(c);
  const int threads = 128 + 32 * c.warps;
  e.blocks_per_sm = static_cast<int>(std::max<long>(1, std::min<long>(227L * 1024 / shared, 2048 / threads)));
  const std::int64_t tiles_m = ceil_div(e.m, c.bm), tiles_n = ceil_div(n, c.bn);
  const std::int64_t slots = static_cast<std::int64_t>(e.multiprocessors) * e.blocks_per_sm;
  set_grid(e, n, tiles_m, tiles_n * c.split_k, slots);
  e.tile_efficiency = static_cast<double>(e.m) * static_cast<double>(n) /
                      (static_cast<double>(tiles_m * c.bm) * static_cast<double>(tiles_n * c.bn));
  const double padded_m = static_cast<double>(tiles_m * c.bm);
  const double padded_n = static_cast<double>(tiles_n * c.bn);
  const double resident = static_cast<double>(std::min(e.blocks, slots));
  const double in_flight = resident * c.stages * (c.bm + c.bn) * 128.0;
  e.memory_parallelism = std::min(1.0, in_flight / (mc.dram_bytes_per_s * mc.latency_s));
  const double t_mem = memory_seconds(mc, e, n, k, tiles_m, tiles_n);
  const double rate = c.warps == 8 ? 1.0 : 0.65;
  const double busy_sms = std::min<double>(resident, e.multiprocessors);
  const double t_mma = 2.0 * padded_m * padded_n * static_cast<double>(k) /
                       (mc.wgmma_flops * rate * busy_sms / e.multiprocessors);
  double t = std::max(t_mem, t_mma);
  e.bound = t == t_mem ? "memory" : "compute";
  if (e.waves > 1) t /= e.wave_efficiency;
  // Each wave of blocks fills its pipeline (a load latency before the first wgmma) and drains
  // it through the epilogue: the cost that makes many small waves (a split that multiplies an
  // already full grid) slower than one. A persistent grid pays it once: its producer fills the
  // next tile's stages during the epilogue.
  t += static_cast<double>(compiler::wgmma_persistent(c) ? 1 : e.waves) * 2.0 * mc.latency_s;
  e.estimated_us = t * 1e6;
  return e;
}

GemmEstimate estimate(const Machine& mc, int multiprocessors, std::int64_t m, std::int64_t n,
                      std::int64_t k, const compiler::GemmConfig& c) {
  GemmEstimate e;
  e.config = c;
  e.m = std::max<std::int64_t>(m, 1);
  e.multiprocessors = multiprocessors > 0 ? multiprocessors : mc.multiprocessors;
  if (c.wgmma) return estimate_wgmma(mc, e, n, k);
  // NOTE: mma_sm89 runs split_k k-slices of `warps` warps in one block: more warps stream the
  // same weight tile (the partial sums cost one shared-memory round trip, not modelled).
  const int warps = std::max(1, c.warps) * std::max(1, c.split_k);
  const int ku = std::max(1, c.bk / mc.lanes_k);
  const int bm = std::max(1, c.bm), bn = std::max(1, c.bn);

  e.registers = registers_of(mc, c);
  const int rounded = (e.registers + 7) / 8 * 8;
  const int warps_per_sm =
      mc.register_files * std::min(mc.max_warps_per_file, mc.registers_per_lane / rounded);
  e.blocks_per_sm = std::max(1, std::min(mc.max_blocks, warps_per_sm / warps));

  const std::int64_t tiles_m = ceil_div(e.m, bm), tiles_n = ceil_div(n, bn);
  const std::int64_t slots = static_cast<std::int64_t>(e.multiprocessors) * e.blocks_per_sm;
  set_grid(e, n, tiles_m, tiles_n, slots);
  const double padded_m = static_cast<double>(tiles_m * bm);
  const double padded_n = static_cast<double>(tiles_n * bn);

  // Memory: the weight is the stream to cover. Each resident block keeps KU x stages 16-byte
  // loads per lane in flight for each of its n-fragments that lies inside N (fragments past N
  // load nothing), per k-slice; K shorter than a step caps KU.
  const double resident = static_cast<double>(std::min(e.blocks, slots));
  const double useful_fragments =
      std::min(static_cast<double>(bn / 16), static_cast<double>(n / 16) / static_cast<double>(tiles_n));
  const double ku_used = std::min<double>(ku, static_cast<double>(ceil_div(k, mc.lanes_k)));
  const double in_flight = resident * useful_fragments * std::max(1, c.split_k) * ku_used *
                           std::max(1, c.stages) * mc.lanes * 16.0;
  e.memory_parallelism = std::min(1.0, in_flight / (mc.dram_bytes_per_s * mc.latency_s));
  // Token tiles do not walk the weight in step (the grid runs along N first), so a weight larger
  // than the cache streams from DRAM once per token tile (H100, llama3-70b.o at M = 16: 46 us
  // with bm = 8, 26 us with bm = 16).
  const double mk = static_cast<double>(e.m) * static_cast<double>(k);
  const double nk = static_cast<double>(n) * static_cast<double>(k);
  const std::int64_t weight_passes = nk > mc.l2_bytes ? tiles_m : 1;
  const double t_mem = memory_seconds(mc, e, n, k, tiles_m, tiles_n, weight_passes);
  // Loads through L1: no shared memory, so every warp along n reads all bm tokens of its block:
  // the token traffic is M K (N / bn) warps, the weight's N K (M / bm). Small tiles make a GEMM
  // load-bound long before the matrix units are.
  const double active_sms = std::min<double>(static_cast<double>(e.blocks), e.multiprocessors);
  const double l1 = nk * static_cast<double>(tiles_m) +
                    mk * static_cast<double>(tiles_n) * std::max(1, c.warps);
  const double t_l1 = l1 / (mc.l1_bytes_per_s * active_sms);
  // Matrix units: a multiprocessor needs a warp per sub-partition (NVIDIA) / SIMD (AMD).
  const double mma_use = std::min(1.0, resident * warps / (4.0 * e.multiprocessors));
  const double t_mma = 2.0 * padded_m * padded_n * static_cast<double>(k) / (mc.mma_flops * mma_use);
  double t = std::max({t_mem, t_l1, t_mma});
  e.bound = t == t_mem ? "memory" : t == t_l1 ? "load" : "compute";
  if (e.waves > 1) t /= e.wave_efficiency;  // the last wave runs as long as a full one
  e.estimated_us = t * 1e6;
  return e;
}

// The configs the heuristic considers, in preference order for ties: token tiles no taller than
// the bucket's M needs, then warps 4, 2, 8, 1; FN 1, 2, 4; KU 2, 4, 1; stages 2, 1. Only configs
// that do not spill and fit on a multiprocessor.
std::vector<compiler::GemmConfig> candidates(const Machine& mc, std::int64_t bucket_m,
                                             std::int64_t k) {
  std::vector<compiler::GemmConfig> out;
  // mma_sm89 splits K inside a block (1, 2, 4, 8 slices); mfma_cdna3 does not. A slice keeps at
  // least four k-steps of its own, and the partial sums fit in 48 KiB of shared memory.
  const std::vector<int> splits = mc.lanes == 64 ? std::vector<int>{1} : std::vector<int>{1, 2, 4, 8};
  for (int bm = mc.frag_m; bm <= 8 * mc.frag_m; bm *= 2) {
    if (bm > mc.frag_m && bm / 2 >= bucket_m) break;  // a taller tile only adds padding
    for (const int warps : {4, 2, 8, 1})
      for (const int fn : {1, 2, 4})
        for (const int ku : {2, 4, 1})
          for (const int stages : {2, 1})
            for (const int split : splits) {
              compiler::GemmConfig c;
              c.bm = bm;
              c.bn = 16 * warps * fn;
              c.bk = mc.lanes_k * ku;
              c.warps = warps;
              c.stages = stages;
              c.split_k = split;
              if (split > 1 && (warps * split > 16 || k / mc.lanes_k < 4L * ku * split ||
                                4L * (split - 1) * warps * fn * (bm / mc.frag_m) * 4 * 32 > 48 * 1024))
                continue;
              const int regs = registers_of(mc, c);
              const int rounded = (regs + 7) / 8 * 8;
              const int warps_per_sm =
                  mc.register_files * std::min(mc.max_warps_per_file, mc.registers_per_lane / rounded);
              if (regs <= mc.register_limit && warps_per_sm >= warps) out.push_back(c);
            }
  }
  if (mc.wgmma) {
    // wgmma_sm90: token tiles 16..128 (no taller than the bucket needs), one or two consumer
    // warpgroups of one or two 64-row slabs, as many stages as fit in 227 KiB (at most 8) or,
    // for tiles of up to 64 tokens, half as many (more blocks per multiprocessor), or as many as
    // a persistent grid leaves room for; tiles of up to 64 tokens also split K over a cluster of
    // 2, 4 or 8 CTAs, each keeping at least four k-tiles.
    for (int bm = 16; bm <= 128; bm *= 2) {
      if (bm > 16 && bm / 2 >= bucket_m) break;
      for (const int warps : {8, 4})
        for (const int fw : {1, 2})
          for (const int split : {1, 2, 4, 8})
            for (const int choice : {0, 1, 2}) {
              compiler::GemmConfig c;
              c.wgmma = true;
              c.bm = bm;
              c.bn = 16 * warps * fw;
              c.bk = 128;
              c.warps = warps;
              c.split_k = split;
              // Stages: the most that fit (0), half of them for tiles of up to 64 tokens (1), or
              // the most that leave room for a persistent grid's epilogue buffers (2), where that
              // differs from the most that fit.
              int most = 8;
              for (c.stages = most; most > 2 && compiler::wgmma_shared_bytes(c) > 227L * 1024;)
                c.stages = --most;
              c.stages = most;
              while (choice == 2 && c.stages > 2 && !compiler::wgmma_persistent(c)) --c.stages;
              if (choice == 1) c.stages = most / 2;
              if (bm * fw > 256 || c.stages < 2 || (choice == 1 && bm > 64) ||
                  (choice == 2 && (c.stages == most || !compiler::wgmma_persistent(c))))
                continue;
              // A split whose CTAs also move registers spills in the partial-sum exchange
              // (80 bytes for wg_bm64_bn256_bk128_w8_s5_k4 with NVRTC 13.0).
              if (split > 1 && (bm > 64 || ceil_div(k, 128) < 4L * split ||
                                4L * bm * c.bn > long(c.stages) * (bm + c.bn) * 128 ||
                                compiler::wgmma_moves_registers(c)))
                continue;
              out.push_back(c);
            }
    }
  }
  return out;  // never empty: bm = frag_m, 1 warp, FN = KU = 1 fits every machine above
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
  return estimate(machine_of(target), multiprocessors, m, n, k, config);
}

std::vector<GemmEstimate> rank_configs(const compiler::Target& target, int multiprocessors,
                                       std::int64_t m, std::int64_t n, std::int64_t k) {
  const Machine mc = machine_of(target);
  const std::int64_t bm = m_bucket_m(m);
  std::vector<GemmEstimate> out;
  for (const auto& c : candidates(mc, bm, k)) out.push_back(estimate(mc, multiprocessors, bm, n, k, c));
  std::stable_sort(out.begin(), out.end(), better);
  return out;
}

compiler::GemmConfig heuristic_config(const compiler::Target& target, int multiprocessors,
                                      std::int64_t m, std::int64_t n, std::int64_t k) {
  const Machine mc = machine_of(target);
  const std::int64_t bm = m_bucket_m(m);
  std::optional<GemmEstimate> best;
  for (const auto& c : candidates(mc, bm, k)) {
    GemmEstimate e = estimate(mc, multiprocessors, bm, n, k, c);
    if (!best || better(e, *best)) best = std::move(e);
  }
  return best->config;  // candidates() is never empty
}

}  // namespace fp8jit::select
