#include "compiler/families/mfma_cdna3.hpp"

#include "compiler/families/register_tiles.hpp"
#include "compiler/kernel_spec.hpp"

namespace fp8jit::compiler {

namespace {

// 16 weight rows x 16 tokens per instruction; a main-loop step reads one 1 KiB chunk of 64 k
// per 16 rows, 16 bytes per lane of each operand (four words of tokens).
constexpr Fragment kMfma16x16x32{.lanes = 64, .m = 16, .k = 64, .token_words = 4};
constexpr int kSplitKs[] = {1};

class MfmaCdna3 final : public RegisterTileFamily {
 public:
  constexpr MfmaCdna3()
      : RegisterTileFamily(Family::mfma_cdna3, "mfma_cdna3", "gemm_cdna3.hip",
                           "fp8jit::MfmaCdna3Gemm", Vendor::amd, kMfma16x16x32, kSplitKs) {}

  int threads(const GemmConfig& c) const override { return c.warps * kMfma16x16x32.lanes; }
  long shared_bytes(const GemmConfig&) const override { return 0; }

 protected:
  std::string broken_split_rule(const Target&, const GemmConfig& c) const override {
    if (c.split_k != 1)
      return "split_k = " + std::to_string(c.split_k) + " must be 1 for mfma_cdna3";
    return "";
  }
};

constinit const MfmaCdna3 kMfmaCdna3;

}  // namespace

const GemmFamily& mfma_cdna3_family() { return kMfmaCdna3; }

}  // namespace fp8jit::compiler
