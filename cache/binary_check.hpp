// What the loaders need of a kernel binary before they are handed one, checked on the host: the
// check that a cached entry's binary passes before it is served (KernelBuilder), that `verify`
// applies to every entry, and that warmup applies to every binary it built or read back.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "cache/entry.hpp"

namespace fp8jit::cache {

// Why `binary` cannot be loaded for `target` ("" when it can): a 64-bit little-endian ELF file of
// the target's machine (EM_CUDA for sm_*, EM_AMDGPU for gfx*, this host's for emu-*), whose
// section header table lies within the file.
std::string binary_problem(std::span<const std::uint8_t> binary, std::string_view target);

// Why `entry` cannot be used ("" when it can): for a kernel, binary_problem; for a record
// (entry.hpp), a text of printable ASCII lines within kMaxRecordBytes; an unknown kind is a
// problem (a newer library's entry, or a forged one).
std::string content_problem(const Entry& entry);

// "cubin (ELF, EM_CUDA)", "code object (ELF, EM_AMDGPU)" or "shared object (ELF, host)".
std::string binary_format(std::string_view target);

}  // namespace fp8jit::cache
