// The ABI between the emulation driver and an emulated kernel's shared object: the host side of
// what emu/prelude_emu.hpp declares. The two must agree field for field; kAbi (exported by
// every emulated binary as fp8jit_emu_abi and checked at load) changes whenever they change.
#pragma once

#include <cstdint>

namespace fp8jit::emu {

constexpr std::uint32_t kAbi = 1;
constexpr std::uint32_t kScratchHalf = 32768;  // bytes per half of a warp's / wave's scratch
constexpr std::uint32_t kScratchHeader = 64;   // zeroed at the start of every block

struct Lane {
  std::uint32_t thread_x, block_x, block_y, block_z, block_dim_x, grid_dim_x;
  std::uint32_t lane;
  std::uint32_t collectives;
  std::uint8_t* wave_scratch;
};

struct Host {
  std::uint32_t abi;
  Lane* (*lane)();
  void (*barrier)();
  void (*wave_sync)();
  int (*check)(const void* p, unsigned long long bytes, unsigned long long align, const char* what);
  void (*fault)(const char* what);
};

// The exported entry of an emulated kernel: runs the kernel for the calling lane with the launch's
// parameters (pointers to each argument's value).
using Entry = void (*)(void** args);

}  // namespace fp8jit::emu
