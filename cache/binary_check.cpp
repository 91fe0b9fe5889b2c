#include "cache/binary_check.hpp"

#include <cstring>

namespace fp8jit::cache {
namespace {

constexpr std::uint16_t kEmCuda = 190, kEmAmdgpu = 224;
#if defined(__x86_64__)
constexpr std::uint16_t kEmHost = 62;  // EM_X86_64: an emulated kernel is a host object
#elif defined(__aarch64__)
constexpr std::uint16_t kEmHost = 183;  // EM_AARCH64
#else
constexpr std::uint16_t kEmHost = 0;
#endif

bool is_nvidia(std::string_view target) { return target.starts_with("sm_"); }
bool is_emulated(std::string_view target) { return target.starts_with("emu-"); }

std::uint16_t u16_at(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | b[at + 1] << 8);
}

std::uint64_t u64_at(std::span<const std::uint8_t> b, std::size_t at) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[at + static_cast<std::size_t>(i)];
  return v;
}

}  // namespace

std::string binary_problem(std::span<const std::uint8_t> b, std::string_view target) {
  const bool nvidia = is_nvidia(target), emu = is_emulated(target);
  if (b.size() < 64)
    return "only " + std::to_string(b.size()) + " bytes, shorter than an ELF header";
  if (std::memcmp(b.data(), "\x7f" "ELF", 4) != 0) return "no ELF magic";
  if (b[4] != 2 || b[5] != 1) return "not a 64-bit little-endian ELF file";
  const std::uint16_t machine = u16_at(b, 18);
  const std::uint16_t want = emu ? kEmHost : nvidia ? kEmCuda : kEmAmdgpu;
  if (machine != want)
    return "e_machine " + std::to_string(machine) + ", expected " + std::to_string(want) +
           (emu ? " (this host)" : nvidia ? " (EM_CUDA)" : " (EM_AMDGPU)");
  const std::uint64_t shoff = u64_at(b, 40);
  const std::uint64_t shentsize = u16_at(b, 58), shnum = u16_at(b, 60);
  if (shoff == 0 || shnum == 0) return "no section header table";
  if (shoff > b.size() || shentsize * shnum > b.size() - shoff)
    return "section header table (" + std::to_string(shnum) + " x " + std::to_string(shentsize) +
           " bytes at " + std::to_string(shoff) + ") runs past the end of the " +
           std::to_string(b.size()) + "-byte file";
  return "";
}

std::string binary_format(std::string_view target) {
  return is_emulated(target) ? "shared object (ELF, host)"
         : is_nvidia(target) ? "cubin (ELF, EM_CUDA)"
                             : "code object (ELF, EM_AMDGPU)";
}

std::string content_problem(const Entry& entry) {
  const EntryKind kind = entry_kind(entry.meta);
  if (kind == EntryKind::kernel) return binary_problem(entry.binary, entry.target);
  if (kind == EntryKind::unknown) return "a record of unknown kind";
  if (entry.binary.size() > kMaxRecordBytes)
    return "a record of " + std::to_string(entry.binary.size()) + " bytes, more than " +
           std::to_string(kMaxRecordBytes);
  for (const std::uint8_t b : entry.binary)
    if (b != '\n' && (b < 0x20 || b >= 0x7f)) return "a record that is not printable text";
  return "";
}

}  // namespace fp8jit::cache
