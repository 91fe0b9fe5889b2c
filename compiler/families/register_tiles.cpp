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
  if (c.multicast != 1)
    return "multicast = " + num(c.multicast) + " must be 1 (" + std::string(name) +
           " loads no operand by TMA; multicast is wgmma_sm90's)";
  if (c.pingpong)
    return "pingpong is wgmma_sm90's (" + std::string(name) + " has no consumer warpgroups)";
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

// Each warp streams its FN n-fragments of the weight (16-byte loads, KU per step and stage) and
// reads the block's bm tokens through L1 — every warp along n the same tokens, so small tiles are
// load-bound long before the matrix units are. A warp issues its step's KU x FM x FN
// instructions only once its loads are in, so with few warps it waits a load latency per
// `stages` steps (the chain). The grid runs along N first, so a weight larger than L2 streams
// from DRAM once per token tile (H100, llama3-70b.o at M = 16: 46 us with bm = 8, 26 us with
// bm = 16).
CostTerms RegisterTileFamily::cost_terms(const ArchSpec& arch, const MachineModel& machine,
                                         const GemmConfig& c, const CostGrid& g) const {
  const FamilyFigures& f = machine.figures(id);
  const int bn = std::max(1, c.bn), warps = std::max(1, c.warps);
  const int fn = std::max(1, bn / (16 * warps));
  const int fm = std::max(1, c.bm / fragment_.m);
  const int ku = std::max(1, c.bk / fragment_.k);
  const int split = std::max(1, c.split_k), stages = std::max(1, c.stages);
  const std::int64_t steps = util::ceil_div(g.k, std::int64_t{c.bk} * split);  // per k-slice
  const double items = static_cast<double>(g.items);
  const double together = std::min<double>(items, g.resident);
  // Rows of a block that lie inside N (fragments past N load nothing).
  const double rows = std::min<double>(bn, double(g.n) / double(g.tiles_n));
  CostTerms t;
  t.sm_bytes = items * (rows + c.bm) * double(g.k);
  t.sm_bytes_in_flight =
      together * warps * split * fn * ku * stages * fragment_.lanes * 16.0 * rows / bn;
  t.sm_l1_s = items * warps * double(c.bm) * double(g.k) / (f.l1_bytes_per_clock * machine.clock_hz);
  const double mmas = double(warps) * split * double(steps) * ku * fm * fn;
  const double flops = 2.0 * bn * fm * fragment_.m * double(g.k);
  t.sm_matrix_s = items * std::max(flops / f.matrix_flops_per_clock,
                                   mmas * f.cycles_per_mma / arch.schedulers) /
                  machine.clock_hz;
  t.chain_s = double(steps) * std::max(ku * fm * fn * f.cycles_per_mma / machine.clock_hz,
                                       machine.latency_s / stages);
  if (double(g.n) * double(g.k) > machine.l2_bytes / 2) t.weight_passes = g.tiles_m;
  t.fixed_s = machine.latency_s + f.epilogue_s * double(util::ceil_div(g.items, g.resident)) +
              (split > 1 ? f.split_s : 0.0);
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
