// KernelSpec: everything that decides a kernel binary, with one canonical text form (the cache key
// and what humans read) and a kernel name that reads like the spec.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "compiler/target.hpp"
#include "fp8jit/types.hpp"

namespace fp8jit::compiler {

enum class Op { gemm, preshuffle };

// A tile configuration. Each family documents how it reads these fields and which values it
// accepts (family_constraints in kernel_spec.cpp enforces exactly those).
struct GemmConfig {
  int bm = 16;      // tokens per block tile
  int bn = 64;      // weight rows (output columns) per block tile
  int bk = 64;      // k per main-loop step
  int warps = 4;    // warps (NVIDIA) or waves (AMD) per block
  int stages = 2;   // loads in flight (register or shared-memory stages)
  int split_k = 1;  // k-slices per output tile (mma_sm89: reduced in the block; mfma_cdna3: 1)
  bool wgmma = false;  // NVIDIA: the wgmma_sm90 family (sm_90a) instead of mma_sm89

  // "bm16_bn64_bk64_w4_s2_k1", with a "wg_" prefix for the wgmma family
  // ("wg_bm128_bn128_bk128_w8_s4_k1"); parse() accepts exactly those forms and throws
  // InvalidArgument.
  std::string str() const;
  static GemmConfig parse(std::string_view text);
  friend bool operator==(const GemmConfig&, const GemmConfig&) = default;
};

struct KernelSpec {
  static constexpr int kVersion = 1;  // bump when the canonical form changes

  Op op = Op::gemm;
  std::string family;  // "mma_sm89" (mma.sync), "wgmma_sm90" (wgmma + TMA), "mfma_cdna3" (AMD),
                       // "preshuffle"
  Target target;
  std::int64_t n = 0, k = 0;  // weight shape; 0 for shape-generic kernels (preshuffle)
  GemmConfig config;
  Fp8Format fp8 = Fp8Format::e4m3fn;
  OutDType out = OutDType::bf16;
  bool bias = false;
  WeightLayout layout = WeightLayout::nv_mma16x32;

  // "fp8jit.spec/1 op=gemm family=mma_sm89 target=sm_90a n=4096 k=4096 cfg=bm16_... fp8=e4m3fn
  // out=bf16 bias=1 layout=nv_mma16x32": stable field order, no optional fields.
  std::string canonical() const;
  // "fp8gemm_n4096_k4096_bm16_bn64_bk64_w4_s2_k1_bf16_bias_sm90a" — a valid C identifier.
  std::string kernel_name() const;
  // Threads per block the family launches with this config.
  int threads() const;
  // Throws InvalidArgument naming the value and the rule when the spec breaks a family or layout
  // constraint (shape divisibility, config limits, fp8 format vs arch).
  void validate() const;

 private:
  void validate_wgmma_sm90() const;
};

// The GEMM spec for a weight of shape (n, k) on `target` with `config`: picks the family and the
// weight layout of that vendor and the fp8 format of the arch.
KernelSpec gemm_spec(const Target& target, std::int64_t n, std::int64_t k, const GemmConfig& config,
                     OutDType out, bool bias);
// The shape-generic preshuffle kernel for `layout` on `target`.
KernelSpec preshuffle_spec(const Target& target, WeightLayout layout);
// Dynamic shared memory of a wgmma_sm90 block with config `c`: stages of A and W with their
// barriers, and for a persistent config the epilogue buffers (otherwise they reuse the stages).
long wgmma_shared_bytes(const GemmConfig& c);
// Whether a wgmma_sm90 config moves the producer's registers to its consumers (setmaxnreg: two
// consumer warpgroups holding 64 or more accumulators each; templates/gemm_sm90.cuh). Such a
// block needs every register of its multiprocessor, so a second block there would stall in
// setmaxnreg — across the CTAs of a cluster, possibly for ever. Its launch reserves more than
// half the shared memory so that one block runs per multiprocessor.
bool wgmma_moves_registers(const GemmConfig& c);
constexpr long kWgmmaOneBlockShared = 114 * 1024 + 16;  // > 227 KiB / 2
// Whether a wgmma_sm90 config runs as a persistent grid (templates/gemm_sm90.cuh): split_k = 1,
// one block per multiprocessor (wgmma_moves_registers) and room for epilogue buffers beside the
// stages, so that the producer fills the next tile's stages while the consumers store. The host
// then launches min(tiles, multiprocessors) blocks.
bool wgmma_persistent(const GemmConfig& c);
// Blocks of a wgmma_sm90 launch for an (n, m) GEMM: split_k (one cluster) per (n tile, token
// tile), or for a persistent config min(tiles, multiprocessors) (all tiles when
// multiprocessors <= 0, i.e. unknown).
std::int64_t wgmma_grid_blocks(const GemmConfig& c, std::int64_t n, std::int64_t m, int multiprocessors);
// The dynamic shared memory a wgmma_sm90 launch asks for (wgmma_shared_bytes or the above).
long wgmma_launch_shared_bytes(const GemmConfig& c);
// Whether the kernel of `spec` itself waits for the kernel before it in the stream
// (griddepcontrol.wait, templates/prelude_cuda.cuh) before it reads anything that kernel may have
// written or writes anything it may read, so that its launch may overlap that kernel's tail
// (programmatic dependent launch). True for the NVIDIA GEMM families on sm_90+ GPUs.
bool waits_for_prior_kernel(const KernelSpec& spec);
// The weight layout the GEMM families of `target`'s vendor read.
WeightLayout native_layout(const Target& target);

}  // namespace fp8jit::compiler
