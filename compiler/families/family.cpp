#include "compiler/families/family.hpp"

#include <algorithm>
#include <cstdio>

#include "compiler/families/mfma_cdna3.hpp"
#include "compiler/families/mma_sm89.hpp"
#include "compiler/families/wgmma_sm90.hpp"
#include "compiler/kernel_spec.hpp"
#include "util/arith.hpp"

namespace fp8jit::compiler {

Instantiation GemmFamily::instantiation(const KernelSpec&) const { return {}; }

std::string GemmFamily::describe(const GemmLaunch& l, int) const {
  char buf[128];
  std::snprintf(buf, sizeof buf, "grid (%lld, %lld, %lld) x %d threads",
                static_cast<long long>(l.grid[0]), static_cast<long long>(l.grid[1]),
                static_cast<long long>(l.grid[2]), l.threads);
  return buf;
}

CostGrid GemmFamily::cost_grid(const ArchSpec& arch, const MachineModel& machine,
                               const GemmConfig& c, std::int64_t m, std::int64_t n,
                               std::int64_t k) const {
  CostGrid g;
  g.m = std::max<std::int64_t>(m, 1), g.n = n, g.k = k;
  g.tiles_m = util::ceil_div(g.m, std::max(1, c.bm));
  g.tiles_n = util::ceil_div(n, std::max(1, c.bn));
  const Occupancy o = occupancy(arch, c);
  g.work = g.tiles_m * g.tiles_n * o.blocks_per_tile;
  g.blocks = g.work;
  g.items = util::ceil_div(g.work, std::max(1, machine.multiprocessors));
  g.resident = o.blocks_per_multiprocessor;
  return g;
}

std::vector<int> GemmFamily::token_tiles(std::int64_t bucket_m) const {
  std::vector<int> out;
  for (int bm = min_bm; bm <= max_bm; bm *= 2) {
    if (bm > min_bm && bm / 2 >= bucket_m) break;
    out.push_back(bm);
  }
  return out;
}

const GemmFamily& family(Family f) {
  switch (f) {
    case Family::mma_sm89: return mma_sm89_family();
    case Family::wgmma_sm90: return wgmma_sm90_family();
    case Family::mfma_cdna3: return mfma_cdna3_family();
  }
  return mma_sm89_family();  // not reached: every enumerator is listed
}

Family default_family(const Target& target) {
  for (const Family f : kFamilies)
    if (family(f).vendor == target.vendor) return f;
  return Family::mma_sm89;  // not reached: every vendor has a family
}

const GemmFamily& family_of(const Target& target, const GemmConfig& config) {
  const GemmFamily& own = family(config.family);
  return own.vendor == target.vendor ? own : family(default_family(target));
}

const GemmFamily& family_of(const KernelSpec& spec) { return family_of(spec.target, spec.config); }

}  // namespace fp8jit::compiler
