// Runs one launch of an emulated kernel: every block on one OS thread, one fiber per GPU thread,
// blocks spread over `threads` OS threads. Deterministic: the fibers of a block always run in
// the same order, so a launch computes the same bits whatever the number of OS threads.
//
// Semantics kept from the GPU: barrier() releases when every thread of the block that has not
// exited has arrived; a warp/wave collective (mma.sync, MFMA, readfirstlane) releases when every
// lane of the warp/wave has arrived (".aligned": a lane that exited or waits elsewhere is a
// deadlock, reported as a fault). Memory accesses through the prelude are checked against the
// allocations (and alignment); the first fault of a launch is reported with its block and thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/driver.hpp"
#include "emu/emu_abi.hpp"

namespace fp8jit::emu {

using runtime::LaunchDims;

// The live allocations of a driver at the start of a launch: [begin, begin + size) ranges,
// sorted by begin.
struct MemoryMap {
  std::vector<std::pair<std::uintptr_t, std::size_t>> ranges;
  bool contains(const void* p, std::size_t bytes) const;
};

struct KernelRef {
  Entry entry = nullptr;
  std::string name;
  unsigned wave = 32;  // lanes per warp / wave
};

struct LaunchReport {
  std::uint64_t faults = 0;
  std::string first_fault;  // "block (1, 0, 0) thread 37: load16 of 16 bytes at 0x... ..."
};

// Runs every block of the launch to completion (or to a deadlock). Throws DriverError for
// launch dimensions the emulation does not run (2-D / 3-D blocks, dynamic shared memory, more
// than 1024 threads).
// The callbacks an emulated binary reaches the scheduler through (its fp8jit_emu_host).
const Host& host_table();

LaunchReport run_launch(const KernelRef& kernel, const LaunchDims& dims, void** args,
                        const MemoryMap& memory, unsigned threads);

}  // namespace fp8jit::emu
