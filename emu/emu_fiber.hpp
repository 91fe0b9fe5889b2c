// Fibers for the emulation driver: one cooperative execution context per emulated GPU thread,
// switched explicitly (no preemption, no OS thread per lane). On x86-64 a 20-instruction switch
// that saves the callee-saved registers and the SSE/x87 control words; elsewhere ucontext
// (swapcontext also saves the signal mask: a system call per switch, about 50x slower).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace fp8jit::emu {

// A saved execution context.
struct FiberContext {
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t uc{};
#endif
};

// Saves the running context into `from` and resumes `to`.
void fiber_switch(FiberContext& from, FiberContext& to) noexcept;

// Stacks for `count` fibers of `bytes` each, every one with an inaccessible guard page below it
// so that an overflow faults instead of corrupting its neighbour. Move-only; unmaps on destruction.
class FiberStacks {
 public:
  FiberStacks() = default;
  FiberStacks(std::size_t count, std::size_t bytes);  // throws DriverError when mmap fails
  FiberStacks(FiberStacks&& o) noexcept;
  FiberStacks& operator=(FiberStacks&& o) noexcept;
  FiberStacks(const FiberStacks&) = delete;
  FiberStacks& operator=(const FiberStacks&) = delete;
  ~FiberStacks();

  std::size_t count() const { return count_; }
  // Prepares `ctx` to run `entry` (which must never return) on stack `i` when first resumed.
  void make(FiberContext& ctx, std::size_t i, void (*entry)()) const;

 private:
  std::uint8_t* base_ = nullptr;
  std::size_t count_ = 0, bytes_ = 0, stride_ = 0;
};

}  // namespace fp8jit::emu
