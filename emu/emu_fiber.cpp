#include "emu/emu_fiber.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "fp8jit/error.hpp"

#if defined(__x86_64__)
// fp8jit_emu_switch(&from.sp, to.sp): pushes the System V callee-saved registers and the MXCSR /
// x87 control words, stores the stack pointer, loads the other one and pops the same in reverse.
// A new fiber's stack is laid out by FiberStacks::make to pop into its entry function.
extern "C" void fp8jit_emu_switch(void** from_sp, void* to_sp) noexcept;
asm(R"(
  .pushsection .text
  .p2align 4
  .globl fp8jit_emu_switch
  .hidden fp8jit_emu_switch
  .type fp8jit_emu_switch, @function
fp8jit_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size fp8jit_emu_switch, .-fp8jit_emu_switch
  .popsection
)");
#endif

namespace fp8jit::emu {

void fiber_switch(FiberContext& from, FiberContext& to) noexcept {
#if defined(__x86_64__)
  fp8jit_emu_switch(&from.sp, to.sp);
#else
  swapcontext(&from.uc, &to.uc);
#endif
}

FiberStacks::FiberStacks(std::size_t count, std::size_t bytes) {
  const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  bytes = (bytes + page - 1) / page * page;
  const std::size_t stride = bytes + page;  // guard page first, then the stack above it
  void* p = ::mmap(nullptr, stride * count, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    throw DriverError("failed to map " + std::to_string(count) + " emulated thread stacks of " +
                      std::to_string(bytes) + " bytes: " + std::strerror(errno));
  base_ = static_cast<std::uint8_t*>(p);
  count_ = count;
  bytes_ = bytes;
  stride_ = stride;
  for (std::size_t i = 0; i < count; ++i)
    if (::mprotect(base_ + i * stride, page, PROT_NONE) != 0) {
      const int err = errno;
      ::munmap(base_, stride_ * count_);
      base_ = nullptr;
      throw DriverError("failed to protect the guard page of an emulated thread stack: " +
                        std::string(std::strerror(err)));
    }
}

FiberStacks::FiberStacks(FiberStacks&& o) noexcept
    : base_(o.base_), count_(o.count_), bytes_(o.bytes_), stride_(o.stride_) {
  o.base_ = nullptr;
  o.count_ = 0;
}

FiberStacks& FiberStacks::operator=(FiberStacks&& o) noexcept {
  // NOTE: swapped, so that `o` unmaps what this held when it goes.
  std::swap(base_, o.base_);
  std::swap(count_, o.count_);
  std::swap(bytes_, o.bytes_);
  std::swap(stride_, o.stride_);
  return *this;
}

FiberStacks::~FiberStacks() {
  if (base_) ::munmap(base_, stride_ * count_);
}

void FiberStacks::make(FiberContext& ctx, std::size_t i, void (*entry)()) const {
  std::uint8_t* low = base_ + i * stride_ + (stride_ - bytes_);
  std::uint8_t* top = low + bytes_;
#if defined(__x86_64__)
  auto* sp = reinterpret_cast<std::uint64_t*>(reinterpret_cast<std::uintptr_t>(top) & ~std::uintptr_t{15});
  *--sp = 0;                                        // entry's return address: it never returns
  *--sp = reinterpret_cast<std::uint64_t>(entry);   // popped by the switch's ret
  for (int r = 0; r < 6; ++r) *--sp = 0;            // rbp, rbx, r12 .. r15
  const std::uint32_t mxcsr = __builtin_ia32_stmxcsr();
  std::uint16_t fcw;
  asm volatile("fnstcw %0" : "=m"(fcw));
  *--sp = mxcsr | (static_cast<std::uint64_t>(fcw) << 32);
  ctx.sp = sp;
#else
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = low;
  ctx.uc.uc_stack.ss_size = bytes_;
  ctx.uc.uc_link = nullptr;
  makecontext(&ctx.uc, entry, 0);
#endif
}

}  // namespace fp8jit::emu
