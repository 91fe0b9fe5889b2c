// Fuzz target for the archive reader of `fp8jit cache import` (scan_archive over libarchive's
// tar reader): never a crash, a hang or an allocation beyond the input, and only valid entries
// come out.
#include <cstdlib>
#include <span>
#include <string>

#include "cache/archive.hpp"
#include "tests/fuzz/fuzz_targets.hpp"

namespace {

namespace fc = fp8jit::cache;

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

int fp8jit_fuzz_cache_archive(const std::uint8_t* data, std::size_t size) {
  std::size_t members = 0;
  const std::string error = fc::scan_archive(std::span(data, size), [&](fc::ArchiveMember&& m) {
    ++members;
    require(m.entry.has_value() == m.problem.empty());
    if (m.entry) require(fc::is_valid_key(m.entry->key));
  });
  // Every member takes at least one 512-byte header.
  require(members <= size / 512);
  (void)error;
  return 0;
}
