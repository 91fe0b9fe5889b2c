#include "compiler/families/register_tiles.hpp"

#include <algorithm>

#include "compiler/arch_spec.hpp"
#include "compiler/kernel_spec.hpp"
#include "util/arith.hpp"

namespace fp8jit::compiler {

namespace {

bool is_pow2_in(int v, int lo, int hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

// Warps (waves) of `registers` registers each that one multiprocessor holds.
int warps_per_multiprocessor(const ArchSpec& arch, int registers) {
  const int rounded = (registers + 7) / 8 * 8;
  return arch.register_files *
         std::min(arch.max_warps_per_file, arch.registers_per_lane() / rounded);
}

}  // namespace

std::string RegisterTileFamily::broken_rule(const Target& target, const GemmConfig& c) const {
  const auto num = [](int v) { return std::to_string(v); };
  if (!is_pow2_in(c.warps, 1, 8))
    return "warps = " + num(c.warps) + " must be a power of two in [1, 8]";
  if (c.bn % (16 * c.warps) != 0 || !is_pow2_in(c.bn / (16 * c.warps), 1, 4))
    return "bn = " + num(c.bn) + " must be 16 x warps x {1, 2, 4}";
  if (!is_pow2_in(c.bm, min_bm, max_bm))
    return "bm = " + num(c.bm) + " must be a power of two in [" + num(min_bm) + ", " +
           num(max_bm) + "]";
  if (!is_pow2_in(c.bk, fragment_.k, 4 * fragment_.k))
    return "bk = " + num(c.bk) + " must be a power of two in [" + num(fragment_.k) + ", " +
           num(4 * fragment_.k) + "]";
  if (c.stages != 1 && c.stages != 2) return "stages = " + num(c.stages) + " must be 1 or 2";
  return broken_split_rule(target, c);
}

GemmLaunch RegisterTileFamily::launch(const KernelSpec& spec, std::int64_t m, int) const {
  const GemmConfig& c = spec.config;
  GemmLaunch l;
  l.grid[0] = (spec.n + c.bn - 1) / c.bn;
  l.grid[1] = (m + c.bm - 1) / c.bm;
  l.grid[2] = 1;  // split_k slices share a block (the family's template says how)
  l.threads = threads(c);
  return l;
}

int RegisterTileFamily::registers(const GemmConfig& c) const {
  const int fn = std::max(1, c.bn / (16 * std::max(1, c.warps)));
  const int fm = std::max(1, c.bm / fragment_.m);
  const int ku = std::max(1, c.bk / fragment_.k);
  return 40 + 4 * fn * fm + std::max(1, c.stages) * ku * (4 * fn + fragment_.token_words * fm);
}

// NOTE: split_k k-slices of `warps` warps run in one block: more warps stream the same weight
// tile (the partial sums cost one shared-memory round trip, not modelled).
Occupancy RegisterTileFamily::occupancy(const ArchSpec& arch, const GemmConfig& c) const {
  const int warps = std::max(1, c.warps) * std::max(1, c.split_k);
  Occupancy o;
  o.registers = registers(c);
  o.blocks_per_multiprocessor =
      std::max(1, std::min(arch.max_blocks, warps_per_multiprocessor(arch, o.registers) / warps));
  return o;
}

CostTerms RegisterTileFamily::cost_terms(const ArchSpec& arch, const GemmConfig& c,
                                         const CostGrid& g) const {
  CostTerms t;
  // Memory: the weight is the stream to cover. Each resident block keeps KU x stages 16-byte
  // loads per lane in flight for each of its n-fragments that lies inside N (fragments past N
  // load nothing), per k-slice; K shorter than a step caps KU.
  const int bn = std::max(1, c.bn);
  const int ku = std::max(1, c.bk / fragment_.k);
  const double useful_fragments =
      std::min(static_cast<double>(bn / 16),
               static_cast<double>(g.n / 16) / static_cast<double>(g.tiles_n));
  const double ku_used =
      std::min<double>(ku, static_cast<double>(util::ceil_div(g.k, fragment_.k)));
  t.bytes_in_flight = g.resident_blocks * useful_fragments * std::max(1, c.split_k) * ku_used *
                      std::max(1, c.stages) * fragment_.lanes * 16.0;
  // Token tiles do not walk the weight in step (the grid runs along N first), so a weight larger
  // than the cache streams from DRAM once per token tile (H100, llama3-70b.o at M = 16: 46 us
  // with bm = 8, 26 us with bm = 16).
  const double mk = static_cast<double>(g.m) * static_cast<double>(g.k);
  const double nk = static_cast<double>(g.n) * static_cast<double>(g.k);
  t.weight_passes = nk > arch.l2_bytes ? g.tiles_m : 1;
  // Loads through L1: no shared memory, so every warp along n reads all bm tokens of its block:
  // the token traffic is M K (N / bn) warps, the weight's N K (M / bm). Small tiles make a GEMM
  // load-bound long before the matrix units are.
  t.l1_bytes = nk * static_cast<double>(g.tiles_m) +
               mk * static_cast<double>(g.tiles_n) * std::max(1, c.warps);
  // Matrix units: a multiprocessor needs a warp per sub-partition (NVIDIA) / SIMD (AMD).
  const int warps = std::max(1, c.warps) * std::max(1, c.split_k);
  const double use = std::min(1.0, g.resident_blocks * warps /
                                       (static_cast<double>(arch.schedulers) * g.multiprocessors));
  t.matrix_flops = arch.matrix_flops(id) * use;
  return t;
}

// Token tiles no taller than the bucket's M needs, then warps 4, 2, 8, 1; FN 1, 2, 4; KU 2, 4, 1;
// stages 2, 1; the family's splits, each slice keeping at least four k-steps of its own. Only
// configs that do not spill and fit on a multiprocessor.
void RegisterTileFamily::candidates(const Target& target, std::int64_t bucket_m, std::int64_t k,
                                    std::vector<GemmConfig>& out) const {
  const ArchSpec& arch = arch_spec(target);
  for (const int bm : token_tiles(bucket_m))
    for (const int warps : {4, 2, 8, 1})
      for (const int fn : {1, 2, 4})
        for (const int ku : {2, 4, 1})
          for (const int stages : {2, 1})
            for (const int split : split_ks_) {
              GemmConfig c;
              c.family = id;
              c.bm = bm;
              c.bn = 16 * warps * fn;
              c.bk = fragment_.k * ku;
              c.warps = warps;
              c.stages = stages;
              c.split_k = split;
              if (split > 1 && k / fragment_.k < 4L * ku * split) continue;
              if (!broken_rule(target, c).empty()) continue;
              const int regs = registers(c);
              if (regs <= arch.register_limit && warps_per_multiprocessor(arch, regs) >= warps)
                out.push_back(c);
            }
}

}  // namespace fp8jit::compiler
