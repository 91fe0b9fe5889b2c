#include "compiler/families/wgmma_sm90.hpp"

#include <algorithm>
#include <cstdio>

#include "compiler/arch_spec.hpp"
#include "compiler/kernel_spec.hpp"
#include "compiler/layouts.hpp"
#include "util/arith.hpp"

namespace fp8jit::compiler {

namespace {

constexpr const ArchSpec& kArch = kSm90aSpec;  // the one arch with wgmma and setmaxnreg
constexpr int kWarpgroupThreads = 128;        // the producer warpgroup, and each consumer one
constexpr int kSwizzleBytes = 128;            // one row of a stage: a 128-byte swizzle atom (bk)
constexpr int kMaxStages = 8;
constexpr int kRasterGroup = 8;               // token tiles per raster group (kGroupM)
// Tokens x 64-row slabs a consumer thread accumulates (FW x bm): 128 floats per thread. More
// spills (wg_bm256_bn256 would hold 256).
constexpr int kMaxSlabTokens = 256;
// The shared-memory bytes per flop of the config the matrix rate is calibrated on
// (wg_bm128_bn256: 128 x (512 + 512 + 128) bytes for 2 x 128 x 256 x 128 flops a step), and the
// least time a step of the same flops can take against it when shared memory is not the limit:
// that GEMM's tensor pipe was busy 85% of its active cycles (H200, M = 8192).
constexpr double kCalibratedSharedBytesPerFlop = 147456.0 / 8388608.0;
constexpr double kTensorOverCalibrated = 0.85;

// The stages (A and W boxes) with their two barriers each, and the consumer warpgroups' epilogue
// buffers (bm rows of 128 bytes per warpgroup: 32 bytes per warp) of a block.
long stage_bytes(const GemmConfig& c) {
  return long(c.stages) * (c.bm + c.bn) * c.bk + 16L * c.stages;
}
long epilogue_bytes(const GemmConfig& c) { return 32L * c.warps * c.bm; }

// The 64-row slabs of a tile one consumer warpgroup accumulates: its share of the bn rows, or
// with ping-pong all of them (the warpgroups take alternate tiles).
int slabs_per_warpgroup(const GemmConfig& c) {
  return c.pingpong ? c.bn / 64 : c.bn / (16 * std::max(4, c.warps));
}

// Whether the config moves the producer's registers to its consumers (setmaxnreg: two consumer
// warpgroups holding 64 or more accumulators each). Such a block needs every register of its
// multiprocessor, so a second block there would stall in setmaxnreg — across the CTAs of a
// cluster, possibly for ever. Its launch reserves more than half the shared memory so that one
// block runs per multiprocessor.
bool moves_registers(const GemmConfig& c) {
  return c.warps == 8 && slabs_per_warpgroup(c) * c.bm >= 128;
}
constexpr long kOneBlockShared = kArch.shared_bytes_per_multiprocessor / 2 + 16;

// (Ping-pong adds a barrier for the consumer warpgroups' turns.)
long shared_bytes_of(const GemmConfig& c) {
  return stage_bytes(c) + (wgmma_persistent(c) ? epilogue_bytes(c) : 0) + (c.pingpong ? 16 : 0);
}
// The dynamic shared memory a launch asks for (a ping-pong grid, persistent like one that
// moves registers, is also one block per multiprocessor).
long launch_shared_bytes(const GemmConfig& c) {
  const long used = shared_bytes_of(c);
  return moves_registers(c) || c.pingpong ? std::max(used, kOneBlockShared) : used;
}

// WgmmaRs<n> (prelude_sm90.cuh) for the token count n of the spec: one wgmma.mma_async
// m64n<n>k32 with A from registers, B from a descriptor, accumulating into n / 2 floats.
std::string wgmma_atom(int n) {
  const int regs = n / 2;
  const auto num = [](int i) { return std::to_string(i); };
  std::string d_list, d_ops;
  for (int i = 0; i < regs; ++i) {
    d_list += "%" + num(i) + (i + 1 < regs ? "," : "");
    d_ops += "\"+f\"(d[" + num(i) + "])" + (i + 1 < regs ? ", " : "");
    if (i % 8 == 7 && i + 1 < regs) d_ops += "\n        ";
  }
  std::string t = "namespace fp8jit {\ntemplate <>\nstruct WgmmaRs<" + num(n) + "> {\n";
  t += "  static FP8JIT_DEVICE void mma(float (&d)[" + num(regs) + "], const u32x4& a, u64 desc) {\n";
  t += "    asm volatile(\n";
  t += "      \"{ .reg .pred p; setp.ne.b32 p, %" + num(regs + 5) + ", 0; \"\n";
  t += "      \"wgmma.mma_async.sync.aligned.m64n" + num(n) + "k32.f32.e4m3.e4m3 \"\n";
  t += "      \"{" + d_list + "}, \"\n";
  t += "      \"{%" + num(regs) + ",%" + num(regs + 1) + ",%" + num(regs + 2) + ",%" +
       num(regs + 3) + "}, %" + num(regs + 4) + ", p, 1, 1; }\"\n";
  t += "      : " + d_ops + "\n";
  t += "      : \"r\"(a.x), \"r\"(a.y), \"r\"(a.z), \"r\"(a.w), \"l\"(desc), \"r\"(1));\n";
  t += "  }\n};\n}  // namespace fp8jit\n";
  return t;
}

bool is_pow2_in(int v, int lo, int hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

class WgmmaSm90 final : public GemmFamily {
 public:
  constexpr WgmmaSm90()
      : GemmFamily(Family::wgmma_sm90, "wgmma_sm90", "wg_", "gemm_sm90.cuh",
                   "fp8jit::WgmmaSm90Gemm", Vendor::nvidia, 16, 256) {}

  // templates/gemm_sm90.cuh states the same limits.
  std::string broken_rule(const Target& target, const GemmConfig& c) const override {
    const auto num = [](long v) { return std::to_string(v); };
    if (arch_spec(target).matrix_flops(id) == 0)
      return "the wgmma family needs arch sm_90a (wgmma and setmaxnreg), not " + target.arch;
    if (c.warps != 4 && c.warps != 8)
      return "warps = " + num(c.warps) + " must be 4 or 8 (one or two consumer warpgroups)";
    if (c.pingpong && (c.warps != 8 || c.split_k != 1 || c.multicast != 1))
      return "pingpong needs warps = 8 (two consumer warpgroups), split_k = 1 and multicast = 1; "
             "here warps = " + num(c.warps) + ", split_k = " + num(c.split_k) + ", multicast = " +
             num(c.multicast);
    // Weight rows of one wgmma per consumer warpgroup, times the warpgroups sharing a tile.
    const int slab = c.pingpong ? 64 : 16 * c.warps;
    if (c.bn % slab != 0 || (c.bn / slab != 1 && c.bn / slab != 2))
      return "bn = " + num(c.bn) + " must be 64 x " + (c.pingpong ? "" : "warps/4 x ") +
             "{1, 2} (" + num(slab) + " or " + num(2 * slab) + " here)";
    if (!is_pow2_in(c.bm, min_bm, max_bm))
      return "bm = " + num(c.bm) + " must be a power of two in [" + num(min_bm) + ", " +
             num(max_bm) + "]";
    if (const int fw = slabs_per_warpgroup(c); fw * c.bm > kMaxSlabTokens)
      return "bm = " + num(c.bm) + " with " + num(fw) +
             " 64-row slabs per consumer warpgroup holds " + num(fw * c.bm / 2) +
             " accumulators per thread; at most " + num(kMaxSlabTokens / 2) +
             " (bm x the warpgroup's bn / 64 <= " + num(kMaxSlabTokens) + ")";
    if (c.bk != kSwizzleBytes)
      return "bk = " + num(c.bk) + " must be " + num(kSwizzleBytes) + " (one " +
             num(kSwizzleBytes) + "-byte swizzle atom)";
    if (c.stages < 2 || c.stages > kMaxStages)
      return "stages = " + num(c.stages) + " must be in [2, " + num(kMaxStages) + "]";
    if (const long shared = shared_bytes(c); shared > kArch.shared_bytes_per_block)
      return "stages = " + num(c.stages) + " needs " + num(shared) +
             " bytes of shared memory; at most " + num(kArch.shared_bytes_per_block) + " (" +
             num(kArch.shared_bytes_per_block / 1024) + " KiB)";
    if (c.pingpong && !wgmma_persistent(c))
      return "pingpong with stages = " + num(c.stages) + " needs " +
             num(shared_bytes(c) + epilogue_bytes(c)) +
             " bytes of shared memory (its epilogue buffers beside the stages); at most " +
             num(kArch.shared_bytes_per_block);
    if (c.split_k != 1 && c.split_k != 2 && c.split_k != 4 && c.split_k != 8)
      return "split_k = " + num(c.split_k) +
             " must be 1, 2, 4 or 8 for wgmma_sm90 (CTAs of a cluster)";
    if (c.multicast != 1 && c.multicast != 2)
      return "multicast = " + num(c.multicast) + " must be 1 or 2 (CTAs sharing a token tile)";
    if (c.multicast > 1 && c.split_k > 1)
      return "multicast = " + num(c.multicast) + " needs split_k = 1 (a cluster shares either a "
             "token tile's copies or a tile's k-range), not " + num(c.split_k);
    // Ranks 1.. of a cluster leave their partial sums (bm x bn floats) in the stages' memory.
    const long partial = 4L * c.bm * c.bn;
    if (c.split_k > 1 && partial > long(c.stages) * (c.bm + c.bn) * c.bk)
      return "split_k = " + num(c.split_k) + " needs " + num(partial) +
             " bytes for partial sums, more than the " + num(c.stages) +
             " stages hold; use more stages";
    return "";
  }

  int threads(const GemmConfig& c) const override {
    return kWarpgroupThreads + c.warps * 32;  // producer warpgroup + consumers
  }
  long shared_bytes(const GemmConfig& c) const override { return shared_bytes_of(c); }

  Instantiation instantiation(const KernelSpec& spec) const override {
    const GemmConfig& c = spec.config;
    Instantiation i;
    i.spec_members = std::string("  static constexpr bool persistent = ") +
                     (wgmma_persistent(c) ? "true" : "false") + ";\n" +
                     "  static constexpr int multicast = " + std::to_string(c.multicast) + ";\n" +
                     "  static constexpr bool pingpong = " + (c.pingpong ? "true" : "false") + ";\n";
    i.before_kernel = wgmma_atom(c.bm);
    // Split-K and multicast run over the CTAs of a cluster; the cluster shape is part of the
    // kernel, so a plain launch of cluster x (tiles / multicast) blocks forms the clusters.
    if (const int cluster = c.split_k * c.multicast; cluster > 1)
      i.attributes = "__cluster_dims__(" + std::to_string(cluster) + ", 1, 1)\n";
    i.parameters = ",\n    const __grid_constant__ fp8jit::TmaMap a_map, "
                   "const __grid_constant__ fp8jit::TmaMap w_map";
    i.arguments = ", &a_map, &w_map";
    return i;
  }

  // split_k blocks (one cluster) per (n tile, token tile), or for a persistent config one block
  // per multiprocessor looping over the tiles, or with multicast one block per tile of a whole
  // number of clusters (N / bn rounded up to the cluster); the kernel rasterises them. TMA reads
  // A ([M, K] bytes, boxes of bm / multicast rows x 128 bytes, 128-byte swizzled) and W (layout
  // nv_mma16x32 seen as [N/16][packed_k(K)/32][128] words of 4 bytes: a box is the stage's bn/16
  // n-blocks x bk/32 k-blocks, the order the kernel expects).
  GemmLaunch launch(const KernelSpec& spec, std::int64_t m, int multiprocessors) const override {
    const GemmConfig& c = spec.config;
    GemmLaunch l;
    const std::int64_t tiles_n = util::ceil_div(util::ceil_div(spec.n, c.bn), c.multicast);
    const std::int64_t tiles = tiles_n * c.multicast * util::ceil_div(m, c.bm);
    l.persistent = wgmma_persistent(c);
    l.grid[0] = l.persistent && multiprocessors > 0 ? std::min<std::int64_t>(tiles, multiprocessors)
                                                     : tiles * c.split_k;
    l.threads = threads(c);
    l.cluster = c.split_k * c.multicast;
    l.shared_bytes = launch_shared_bytes(c);
    const auto n = static_cast<std::uint64_t>(spec.n), k = static_cast<std::uint64_t>(spec.k);
    TmaOperand& a = l.tma[0];
    a.source = TmaOperand::Source::a;
    a.dims[0] = k, a.dims[1] = static_cast<std::uint64_t>(m);
    a.strides[0] = k;
    a.box[0] = kSwizzleBytes, a.box[1] = static_cast<std::uint32_t>(c.bm / c.multicast);
    a.swizzle_128b = true;
    TmaOperand& w = l.tma[1];
    w.source = TmaOperand::Source::w;
    w.rank = 3;
    w.element_bytes = 4;
    const std::uint64_t k_blocks = static_cast<std::uint64_t>(packed_k(spec.k)) / 32;
    w.dims[0] = 128, w.dims[1] = k_blocks, w.dims[2] = n / 16;
    w.strides[0] = 512, w.strides[1] = k_blocks * 512;
    w.box[0] = 128, w.box[1] = static_cast<std::uint32_t>(c.bk / 32),
    w.box[2] = static_cast<std::uint32_t>(c.bn / 16);
    l.tma_count = 2;
    return l;
  }

  std::string describe(const GemmLaunch& l, int multiprocessors) const override {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "grid (%lld, %lld, %lld) x %d threads, clusters of %d, %ld bytes of shared "
                  "memory%s",
                  static_cast<long long>(l.grid[0]), static_cast<long long>(l.grid[1]),
                  static_cast<long long>(l.grid[2]), l.threads, l.cluster, l.shared_bytes,
                  !l.persistent ? ""
                  : multiprocessors > 0
                      ? ", persistent (one block per multiprocessor, looping over the tiles)"
                      : ", persistent (min(tiles, multiprocessors) blocks looping over the tiles)");
    return buf;
  }

  // Accumulators FW x bm / 2, the weight fragments of two stages (32 FW) and some 30 more; ptxas
  // caps a thread at 168 registers with two consumer warpgroups (384 threads). Measured with
  // NVRTC 13.0 (tests/compiler/test_nvrtc.cpp): the configs broken_rule accepts (FW x bm <= 256)
  // compile without spills, except a split-K cluster whose CTAs move registers
  // (candidates() leaves those out). TMA keeps stages x (bm + bn) x 128 bytes in flight per
  // block; as many blocks share a multiprocessor as its shared memory and threads allow (one
  // where the config moves registers). split_k CTAs of a cluster take one tile's k-range each:
  // more blocks stream a narrow N.
  Occupancy occupancy(const ArchSpec& arch, const GemmConfig& c) const override {
    const int fw = std::max(1, slabs_per_warpgroup(c));
    Occupancy o;
    o.registers = fw * c.bm / 2 + 32 * fw + 30;
    const long shared = launch_shared_bytes(c);
    o.blocks_per_multiprocessor = static_cast<int>(std::max<long>(
        1, std::min<long>(arch.shared_bytes_per_block / shared,
                          arch.max_threads_per_multiprocessor / threads(c))));
    o.blocks_per_tile = c.split_k;
    return o;
  }

  // A persistent config launches one block per multiprocessor that loops over the tiles; a
  // multicast one a whole number of clusters along N.
  CostGrid cost_grid(const ArchSpec& arch, const MachineModel& machine, const GemmConfig& c,
                     std::int64_t m, std::int64_t n, std::int64_t k) const override {
    CostGrid g = GemmFamily::cost_grid(arch, machine, c, m, n, k);
    if (c.multicast > 1) {
      g.tiles_n = util::ceil_div(g.tiles_n, c.multicast) * c.multicast;
      g.work = g.blocks = g.tiles_m * g.tiles_n;
      g.items = util::ceil_div(g.work, std::max(1, machine.multiprocessors));
    }
    if (wgmma_persistent(c)) g.blocks = std::min<std::int64_t>(g.work, machine.multiprocessors);
    return g;
  }

  // Per step a block loads (bm + bn) x 128 bytes by TMA and issues FW x 4 wgmmas per consumer
  // warpgroup; the tensor units of a multiprocessor are shared by its blocks, the issue floor of
  // each block's wgmmas is not. Token tiles of one raster group (kRasterGroup) run together and
  // share the weight in L2, so a weight larger than L2 streams once per group. Every round of
  // blocks on a multiprocessor fills its pipeline (a load latency) and runs its epilogue; a
  // persistent block fills once and stores while its producer loads the next tile. A split-K
  // cluster adds the ranks' partial sums through distributed shared memory. (Multicast halves
  // the token bytes a block pulls; nothing else of it is modelled. It ran as fast as the same
  // tile without it on an H100, bench/NOTES.md v16, so candidates() does not offer it and only a
  // tuned row or a forced config runs one. Ping-pong is costed as the persistent tile of its
  // rows and is not offered either until it is measured.)
  CostTerms cost_terms(const ArchSpec&, const MachineModel& machine, const GemmConfig& c,
                       const CostGrid& g) const override {
    const FamilyFigures& f = machine.figures(id);
    const int fw = std::max(1, slabs_per_warpgroup(c));
    const std::int64_t steps = util::ceil_div(util::ceil_div(g.k, kSwizzleBytes), c.split_k);
    const double items = static_cast<double>(g.items);
    const double together = std::min<double>(items, g.resident);
    // Operand bytes a block pulls per step (with multicast, its share of the token box).
    const double step_bytes = (double(c.bm) / c.multicast + c.bn) * kSwizzleBytes;
    CostTerms t;
    t.sm_bytes = items * double(steps) * step_bytes;
    t.sm_bytes_in_flight = together * c.stages * step_bytes;
    // The calibrated rate is what wg_bm128_bn256 runs at. A step moves 128 x (2 bn + bm bn / 64 +
    // bm) bytes through shared memory (the TMA writes of both boxes, the weight fragments' loads,
    // every m64 wgmma's read of the token box); that tile moves 13% more per flop than vLLM's
    // CUTLASS tile, which took 9% fewer cycles on an H200 at M = 8192. A tile with fewer bytes
    // per flop runs faster, down to the tensor pipe's limit; one with more, slower.
    const double step_flops = 2.0 * c.bn * c.bm * kSwizzleBytes;
    const double shared_bytes = double(kSwizzleBytes) * (2.0 * c.bn + c.bm * c.bn / 64.0 + c.bm);
    const double tensor_cycles =
        std::max(step_flops * kTensorOverCalibrated, shared_bytes / kCalibratedSharedBytesPerFlop) /
        f.matrix_flops_per_clock;
    const double issue_cycles = fw * (kSwizzleBytes / 32) * f.cycles_per_mma + f.cycles_per_step;
    t.sm_matrix_s = items * double(steps) * std::max(tensor_cycles, issue_cycles / together) /
                    machine.clock_hz;
    if (2.0 * double(g.n) * double(g.k) > machine.l2_bytes)
      t.weight_passes = util::ceil_div(g.tiles_m, kRasterGroup);
    const bool persistent = wgmma_persistent(c);
    const std::int64_t tiles_here = util::ceil_div(g.tiles_m * g.tiles_n, machine.multiprocessors);
    const double rounds = persistent ? 1.0 : double(util::ceil_div(tiles_here, g.resident));
    const double epilogue = f.epilogue_s + 2.0 * c.bm * c.bn / f.store_bytes_per_s;
    t.fixed_s = rounds * (machine.latency_s + epilogue);
    if (c.split_k > 1)
      t.fixed_s += f.split_s + (c.split_k - 1) * 4.0 * c.bm * c.bn / f.split_bytes_per_s;
    return t;
  }

  // Token tiles 16..256 (no taller than the bucket needs), one or two consumer warpgroups of one
  // or two 64-row slabs, as many stages as fit in shared memory (at most 8) or, for tiles of up
  // to 64 tokens, half as many (more blocks per multiprocessor), or as many as a persistent grid
  // leaves room for; tiles of up to 64 tokens also split K over a cluster of 2, 4 or 8 CTAs, each
  // keeping at least four k-tiles.
  void candidates(const Target& target, std::int64_t bucket_m, std::int64_t k,
                  std::vector<GemmConfig>& out) const override {
    for (const int bm : token_tiles(bucket_m))
      for (const int warps : {8, 4})
        for (const int fw : {1, 2})
          for (const int split : {1, 2, 4, 8})
            for (const int choice : {0, 1, 2}) {
              GemmConfig c;
              c.family = id;
              c.bm = bm;
              c.bn = 16 * warps * fw;
              c.bk = kSwizzleBytes;
              c.warps = warps;
              c.split_k = split;
              // Stages: the most that fit (0), half of them for tiles of up to 64 tokens (1), or
              // the most that leave room for a persistent grid's epilogue buffers (2), where that
              // differs from the most that fit.
              int most = kMaxStages;
              for (c.stages = most; most > 2 && shared_bytes(c) > kArch.shared_bytes_per_block;)
                c.stages = --most;
              c.stages = most;
              while (choice == 2 && c.stages > 2 && !wgmma_persistent(c)) --c.stages;
              if (choice == 1) c.stages = most / 2;
              if (bm * fw > kMaxSlabTokens || c.stages < 2 || (choice == 1 && bm > 64) ||
                  (choice == 2 && (c.stages == most || !wgmma_persistent(c))))
                continue;
              // A split whose CTAs also move registers spills in the partial-sum exchange
              // (80 bytes for wg_bm64_bn256_bk128_w8_s5_k4 with NVRTC 13.0).
              if (split > 1 && (bm > 64 || util::ceil_div(k, kSwizzleBytes) < 4L * split ||
                                moves_registers(c)))
                continue;
              if (!broken_rule(target, c).empty()) continue;  // the partial sums must fit
              out.push_back(c);
            }
  }
};

constinit const WgmmaSm90 kWgmmaSm90;

}  // namespace

bool wgmma_persistent(const GemmConfig& c) {
  return c.split_k == 1 && c.multicast == 1 && (moves_registers(c) || c.pingpong) &&
         stage_bytes(c) + epilogue_bytes(c) + (c.pingpong ? 16 : 0) <= kArch.shared_bytes_per_block;
}

const GemmFamily& wgmma_sm90_family() { return kWgmmaSm90; }

}  // namespace fp8jit::compiler
