// KernelSpec: everything that decides a kernel binary, with one canonical text form (the cache key
// and what humans read) and a kernel name that reads like the spec.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "compiler/families/family.hpp"
#include "compiler/target.hpp"
#include "fp8jit/types.hpp"

namespace fp8jit::compiler {

enum class Op { gemm, preshuffle };

// A tile configuration of one family. Each family documents how it reads these fields and which
// values it accepts (its module's broken_rule, compiler/families/, enforces exactly those).
struct GemmConfig {
  int bm = 16;      // tokens per block tile
  int bn = 64;      // weight rows (output columns) per block tile
  int bk = 64;      // k per main-loop step
  int warps = 4;    // warps (NVIDIA) or waves (AMD) per block
  int stages = 2;   // loads in flight (register or shared-memory stages)
  int split_k = 1;  // k-slices per output tile (mma_sm89: reduced in the block; mfma_cdna3: 1)
  Family family = Family::mma_sm89;
  // CTAs of a cluster that take neighbouring weight tiles of one token tile and share its copies
  // (TMA multicast: each loads a share of the token box into all of them); 1 or, for wgmma_sm90,
  // 2. Written "_mc2" after the rest, nothing when 1.
  int multicast = 1;
  // wgmma_sm90 only: the two consumer warpgroups take alternate tiles of bn weight rows each
  // (ping-pong), so that one's epilogue runs under the other's main loop. Written "_pp" last.
  bool pingpong = false;

  // "bm16_bn64_bk64_w4_s2_k1", after the family's config prefix ("wg_" for wgmma_sm90:
  // "wg_bm128_bn128_bk128_w8_s4_k1", "wg_bm256_bn128_bk128_w8_s3_k1_mc2",
  // "wg_bm128_bn128_bk128_w8_s5_k1_pp"; none for mma_sm89 and mfma_cdna3).
  std::string str() const;
  // Accepts exactly the forms str() writes and throws InvalidArgument for anything else. A
  // prefix names its family; without one the config is of `target`'s default family
  // (default_family: mma_sm89 on NVIDIA, mfma_cdna3 on AMD).
  static GemmConfig parse(std::string_view text, const Target& target);
  friend bool operator==(const GemmConfig&, const GemmConfig&) = default;
};

struct KernelSpec {
  static constexpr int kVersion = 1;  // bump when the canonical form changes

  Op op = Op::gemm;
  Target target;
  std::int64_t n = 0, k = 0;  // weight shape; 0 for shape-generic kernels (preshuffle)
  GemmConfig config;  // op == gemm: its family (family_of(spec)) builds the kernel
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
};

// The GEMM spec for a weight of shape (n, k) on `target` with `config` (its family builds it):
// the weight layout of the target's vendor and the fp8 format of the arch.
KernelSpec gemm_spec(const Target& target, std::int64_t n, std::int64_t k, const GemmConfig& config,
                     OutDType out, bool bias);
// The shape-generic preshuffle kernel for `layout` on `target`.
KernelSpec preshuffle_spec(const Target& target, WeightLayout layout);
// Whether the kernel of `spec` itself waits for the kernel before it in the stream
// (griddepcontrol.wait, templates/prelude_cuda.cuh) before it reads anything that kernel may have
// written or writes anything it may read, so that its launch may overlap that kernel's tail
// (programmatic dependent launch). True for the NVIDIA GEMM families on sm_90+ GPUs.
bool waits_for_prior_kernel(const KernelSpec& spec);
// The weight layout the GEMM families of `target`'s vendor read.
WeightLayout native_layout(const Target& target);

}  // namespace fp8jit::compiler
