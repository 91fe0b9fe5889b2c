#include "compiler/kernel_spec.hpp"

#include <algorithm>

#include <cstdio>
#include <string>

#include "compiler/gemm_limits.hpp"
#include "compiler/layouts.hpp"
#include "fp8jit/error.hpp"

namespace fp8jit::compiler {

namespace {

bool is_pow2_in(int v, int lo, int hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

[[noreturn]] void reject(const KernelSpec& s, const std::string& why) {
  throw InvalidArgument("failed to build kernel " + s.kernel_name() + ": " + why);
}

// "sm_90a" -> "sm90a", "gfx942" -> "gfx942", emu-gfx942 -> "emu_gfx942": the arch as it reads in
// a kernel name.
std::string arch_tag(const Target& t) {
  std::string a = t.arch;
  if (a.rfind("sm_", 0) == 0) a.erase(2, 1);
  return t.emulated ? "emu_" + a : a;
}

}  // namespace

std::string GemmConfig::str() const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%sbm%d_bn%d_bk%d_w%d_s%d_k%d", wgmma ? "wg_" : "", bm, bn, bk,
                warps, stages, split_k);
  return buf;
}

GemmConfig GemmConfig::parse(std::string_view text) {
  GemmConfig c;
  int used = 0;
  const std::string s(text);
  c.wgmma = s.rfind("wg_", 0) == 0;
  if (std::sscanf(s.c_str() + (c.wgmma ? 3 : 0), "bm%d_bn%d_bk%d_w%d_s%d_k%d%n", &c.bm, &c.bn, &c.bk, &c.warps,
                  &c.stages, &c.split_k, &used) != 6 ||
      used != static_cast<int>(s.size()) - (c.wgmma ? 3 : 0))
    throw InvalidArgument("failed to parse config '" + s +
                          "': expected [wg_]bm<int>_bn<int>_bk<int>_w<int>_s<int>_k<int>");
  return c;
}

std::string KernelSpec::canonical() const {
  std::string s = "fp8jit.spec/" + std::to_string(kVersion);
  s += op == Op::gemm ? " op=gemm" : " op=preshuffle";
  s += " family=" + family;
  s += " target=" + target.str();
  s += " n=" + std::to_string(n) + " k=" + std::to_string(k);
  s += " cfg=" + (op == Op::gemm ? config.str() : std::string("-"));
  s += " fp8=" + std::string(to_string(fp8));
  s += " out=" + std::string(to_string(out));
  s += bias ? " bias=1" : " bias=0";
  s += " layout=" + std::string(to_string(layout));
  return s;
}

std::string KernelSpec::kernel_name() const {
  if (op == Op::preshuffle)
    return "fp8pack_" + std::string(to_string(layout)) + "_" + arch_tag(target);
  return "fp8gemm_n" + std::to_string(n) + "_k" + std::to_string(k) + "_" + config.str() + "_" +
         std::string(to_string(out)) + (bias ? "_bias_" : "_") + arch_tag(target);
}

int KernelSpec::threads() const {
  if (op == Op::preshuffle) return 256;
  if (target.vendor == Vendor::amd) return config.warps * 64;
  if (config.wgmma) return 128 + config.warps * 32;  // producer warpgroup + consumers
  return config.warps * config.split_k * 32;
}

void KernelSpec::validate() const {
  if (fp8 != target.fp8_format())
    reject(*this, "fp8 format " + std::string(to_string(fp8)) + " does not match arch " +
                      target.arch + ", which consumes " +
                      std::string(to_string(target.fp8_format())));
  const WeightLayout native = native_layout(target);
  if (layout != native)
    reject(*this, "layout " + std::string(to_string(layout)) + " is not read by " + target.arch +
                      " kernels (they read " + std::string(to_string(native)) + ")");
  if (op == Op::preshuffle) return;

  if (!target.has_fp8_mma())
    reject(*this, "arch " + target.arch + " has no fp8 matrix instructions (use gfx942, gfx950, "
                  "sm_89 or sm_90a)");
  check_weight_shape(n, k, "build kernel " + kernel_name(), layout);
  const GemmConfig& c = config;
  if (c.wgmma != (family == "wgmma_sm90"))
    reject(*this, "config " + c.str() + " does not belong to family " + family);
  if (family == "wgmma_sm90") return validate_wgmma_sm90();
  const int lanes_k = target.vendor == Vendor::amd ? 64 : 32;  // k consumed per fragment step
  const int frag_m = target.vendor == Vendor::amd ? 16 : 8;    // tokens per fragment
  if (!is_pow2_in(c.warps, 1, 8)) reject(*this, "warps = " + std::to_string(c.warps) +
                                                    " must be a power of two in [1, 8]");
  if (c.bn % (16 * c.warps) != 0 || !is_pow2_in(c.bn / (16 * c.warps), 1, 4))
    reject(*this, "bn = " + std::to_string(c.bn) + " must be 16 x warps x {1, 2, 4}");
  if (!is_pow2_in(c.bm, frag_m, frag_m * 8))
    reject(*this, "bm = " + std::to_string(c.bm) + " must be a power of two in [" +
                      std::to_string(frag_m) + ", " + std::to_string(frag_m * 8) + "]");
  if (!is_pow2_in(c.bk, lanes_k, 4 * lanes_k))
    reject(*this, "bk = " + std::to_string(c.bk) + " must be a power of two in [" +
                      std::to_string(lanes_k) + ", " + std::to_string(4 * lanes_k) + "]");
  if (c.stages != 1 && c.stages != 2)
    reject(*this, "stages = " + std::to_string(c.stages) + " must be 1 or 2");
  if (target.vendor == Vendor::amd) {
    if (c.split_k != 1)
      reject(*this, "split_k = " + std::to_string(c.split_k) + " must be 1 for mfma_cdna3");
    return;
  }
  // mma_sm89: split_k k-slices of `warps` warps in one block, reduced through shared memory.
  if (!is_pow2_in(c.split_k, 1, 8))
    reject(*this, "split_k = " + std::to_string(c.split_k) + " must be 1, 2, 4 or 8");
  if (c.warps * c.split_k > 16)
    reject(*this, "warps x split_k = " + std::to_string(c.warps * c.split_k) +
                      " must be at most 16 (512 threads per block)");
  const long partial_bytes = 4L * (c.split_k - 1) * c.warps * (c.bn / (16 * c.warps)) *
                             (c.bm / 8) * 4 * 32;
  if (partial_bytes > 48 * 1024)
    reject(*this, "split_k = " + std::to_string(c.split_k) + " needs " +
                      std::to_string(partial_bytes) +
                      " bytes of shared memory for partial sums; at most 49152");
}

// wgmma_sm90 (templates/gemm_sm90.cuh states the same limits).
void KernelSpec::validate_wgmma_sm90() const {
  const GemmConfig& c = config;
  if (target.arch != "sm_90a")
    reject(*this, "the wgmma family needs arch sm_90a (wgmma and setmaxnreg), not " + target.arch);
  if (c.warps != 4 && c.warps != 8)
    reject(*this, "warps = " + std::to_string(c.warps) +
                      " must be 4 or 8 (one or two consumer warpgroups)");
  const int slab = 16 * c.warps;  // weight rows of one wgmma per consumer warpgroup x groups
  if (c.bn % slab != 0 || (c.bn / slab != 1 && c.bn / slab != 2))
    reject(*this, "bn = " + std::to_string(c.bn) + " must be 64 x warps/4 x {1, 2} (" +
                      std::to_string(slab) + " or " + std::to_string(2 * slab) + " here)");
  if (!is_pow2_in(c.bm, 16, 128))
    reject(*this, "bm = " + std::to_string(c.bm) +
                      " must be a power of two in [16, 128] (256 spills in the epilogue)");
  if (c.bk != 128)
    reject(*this, "bk = " + std::to_string(c.bk) + " must be 128 (one 128-byte swizzle atom)");
  if (c.stages < 2 || c.stages > 8)
    reject(*this, "stages = " + std::to_string(c.stages) + " must be in [2, 8]");
  const long shared = wgmma_shared_bytes(c);
  if (shared > 227 * 1024)
    reject(*this, "stages = " + std::to_string(c.stages) + " needs " + std::to_string(shared) +
                      " bytes of shared memory; at most 232448 (227 KiB)");
  if (c.split_k != 1 && c.split_k != 2 && c.split_k != 4 && c.split_k != 8)
    reject(*this, "split_k = " + std::to_string(c.split_k) +
                      " must be 1, 2, 4 or 8 for wgmma_sm90 (CTAs of a cluster)");
  // Ranks 1.. of a cluster leave their partial sums (bm x bn floats) in the stages' memory.
  const long partial = 4L * c.bm * c.bn;
  if (c.split_k > 1 && partial > long(c.stages) * (c.bm + c.bn) * c.bk)
    reject(*this, "split_k = " + std::to_string(c.split_k) + " needs " + std::to_string(partial) +
                      " bytes for partial sums, more than the " + std::to_string(c.stages) +
                      " stages hold; use more stages");
}

namespace {
// The stages (A and W boxes) with their two barriers each, and the consumer warpgroups' epilogue
// buffers (bm rows of 128 bytes per warpgroup: 32 bytes per warp) of a wgmma_sm90 block.
long wgmma_stage_bytes(const GemmConfig& c) {
  return long(c.stages) * (c.bm + c.bn) * c.bk + 16L * c.stages;
}
long wgmma_epilogue_bytes(const GemmConfig& c) { return 32L * c.warps * c.bm; }
}  // namespace

bool wgmma_moves_registers(const GemmConfig& c) { return c.warps == 8 && (c.bn / 128) * c.bm >= 128; }

bool wgmma_persistent(const GemmConfig& c) {
  return c.split_k == 1 && wgmma_moves_registers(c) &&
         wgmma_stage_bytes(c) + wgmma_epilogue_bytes(c) <= 227L * 1024;
}

std::int64_t wgmma_grid_blocks(const GemmConfig& c, std::int64_t n, std::int64_t m, int multiprocessors) {
  const std::int64_t tiles = (n + c.bn - 1) / c.bn * ((m + c.bm - 1) / c.bm);
  if (wgmma_persistent(c) && multiprocessors > 0) return std::min<std::int64_t>(tiles, multiprocessors);
  return tiles * c.split_k;
}

long wgmma_shared_bytes(const GemmConfig& c) {
  return wgmma_stage_bytes(c) + (wgmma_persistent(c) ? wgmma_epilogue_bytes(c) : 0);
}

long wgmma_launch_shared_bytes(const GemmConfig& c) {
  const long used = wgmma_shared_bytes(c);
  return wgmma_moves_registers(c) ? std::max(used, kWgmmaOneBlockShared) : used;
}

bool waits_for_prior_kernel(const KernelSpec& spec) {
  return spec.op == Op::gemm && spec.target.vendor == Vendor::nvidia && !spec.target.emulated &&
         spec.target.sm() >= 90;
}

WeightLayout native_layout(const Target& target) {
  return target.vendor == Vendor::amd ? WeightLayout::aiter16x16 : WeightLayout::nv_mma16x32;
}

KernelSpec gemm_spec(const Target& target, std::int64_t n, std::int64_t k,
                     const GemmConfig& config, OutDType out, bool bias) {
  KernelSpec s;
  s.op = Op::gemm;
  s.family = target.vendor == Vendor::amd ? "mfma_cdna3"
             : config.wgmma                  ? "wgmma_sm90"
                                             : "mma_sm89";
  s.target = target;
  s.n = n;
  s.k = k;
  s.config = config;
  s.fp8 = target.fp8_format();
  s.out = out;
  s.bias = bias;
  s.layout = native_layout(target);
  return s;
}

KernelSpec preshuffle_spec(const Target& target, WeightLayout layout) {
  KernelSpec s;
  s.op = Op::preshuffle;
  s.family = "preshuffle";
  s.target = target;
  s.fp8 = target.fp8_format();
  s.layout = layout;
  return s;
}

}  // namespace fp8jit::compiler
