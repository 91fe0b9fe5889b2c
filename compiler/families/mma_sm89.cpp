#include "compiler/families/mma_sm89.hpp"

#include "compiler/arch_spec.hpp"
#include "compiler/families/register_tiles.hpp"
#include "compiler/kernel_spec.hpp"

namespace fp8jit::compiler {

namespace {

// The swapped product puts 16 weight rows on the instruction's M side and 8 tokens on its N
// side; a lane holds 16 weight bytes and two words of tokens per k32 step.
constexpr Fragment kMmaM16n8k32{.lanes = 32, .m = 8, .k = 32, .token_words = 2};
constexpr int kMaxWarps = 16;  // warps x split_k: at most 512 threads per block
constexpr int kSplitKs[] = {1, 2, 4, 8};

class MmaSm89 final : public RegisterTileFamily {
 public:
  constexpr MmaSm89()
      : RegisterTileFamily(Family::mma_sm89, "mma_sm89", "gemm_sm89.cuh", "fp8jit::MmaSm89Gemm",
                           Vendor::nvidia, kMmaM16n8k32, kSplitKs) {}

  int threads(const GemmConfig& c) const override {
    return c.warps * c.split_k * kMmaM16n8k32.lanes;
  }
  // Slices 1.. of a split leave their partial sums (4 FN FM floats per lane) for slice 0.
  long shared_bytes(const GemmConfig& c) const override {
    return 4L * (c.split_k - 1) * c.warps * (c.bn / (16 * c.warps)) * (c.bm / kMmaM16n8k32.m) *
           4 * kMmaM16n8k32.lanes;
  }

 protected:
  std::string broken_split_rule(const Target& target, const GemmConfig& c) const override {
    const auto num = [](long v) { return std::to_string(v); };
    if (c.split_k < 1 || c.split_k > 8 || (c.split_k & (c.split_k - 1)) != 0)
      return "split_k = " + num(c.split_k) + " must be 1, 2, 4 or 8";
    if (c.warps * c.split_k > kMaxWarps)
      return "warps x split_k = " + num(c.warps * c.split_k) + " must be at most " +
             num(kMaxWarps) + " (" + num(kMaxWarps * kMmaM16n8k32.lanes) + " threads per block)";
    const long limit = arch_spec(target).static_shared_bytes_per_block;  // __shared__ partials
    if (const long partial = shared_bytes(c); partial > limit)
      return "split_k = " + num(c.split_k) + " needs " + num(partial) +
             " bytes of shared memory for partial sums; at most " + num(limit);
    return "";
  }
};

constinit const MmaSm89 kMmaSm89;

}  // namespace

const GemmFamily& mma_sm89_family() { return kMmaSm89; }

}  // namespace fp8jit::compiler
