// wgmma_sm90: wgmma with A from registers and the tokens from shared memory, fed by TMA through
// an mbarrier pipeline (templates/gemm_sm90.cuh), on sm_90a only; split_k CTAs of a cluster share
// a tile, and configs that move the producer's registers to two consumer warpgroups may run as a
// persistent grid.
#pragma once

#include "compiler/families/family.hpp"

namespace fp8jit::compiler {

const GemmFamily& wgmma_sm90_family();

// Whether a wgmma_sm90 config runs as a persistent grid (templates/gemm_sm90.cuh): split_k = 1,
// no multicast, ping-pong or one block per multiprocessor (it moves registers: setmaxnreg with
// two consumer warpgroups holding 64 or more accumulators each), and room for epilogue buffers
// beside the stages, so that the producer fills the next tile's stages while the consumers store.
// The host then launches min(tiles, multiprocessors) blocks.
bool wgmma_persistent(const GemmConfig& c);

}  // namespace fp8jit::compiler
