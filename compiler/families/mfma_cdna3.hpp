// mfma_cdna3: v_mfma_f32_16x16x32_fp8_fp8 from registers (templates/gemm_cdna3.hip) on gfx942
// (e4m3fnuz) and gfx950 (e4m3fn); no split-K, no LDS.
#pragma once

#include "compiler/families/family.hpp"

namespace fp8jit::compiler {

const GemmFamily& mfma_cdna3_family();

}  // namespace fp8jit::compiler
