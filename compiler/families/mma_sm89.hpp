// mma_sm89: mma.sync m16n8k32 e4m3 from registers (templates/gemm_sm89.cuh) on sm_89, sm_90 and
// sm_90a; split_k k-slices of one block reduce their partial sums through shared memory.
#pragma once

#include "compiler/families/family.hpp"

namespace fp8jit::compiler {

const GemmFamily& mma_sm89_family();

}  // namespace fp8jit::compiler
