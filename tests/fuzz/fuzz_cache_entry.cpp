// Fuzz target for the cache-entry reader (decode_entry, decode_entry_head): never a crash, a hang
// or an allocation beyond the input; an input that decodes survives encode + decode unchanged.
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "cache/entry.hpp"
#include "tests/fuzz/fuzz_targets.hpp"

namespace {

namespace fc = fp8jit::cache;

// A broken invariant: abort, so that libFuzzer (and the corpus test) report it.
void require(bool ok) {
  if (!ok) std::abort();
}

// The key an input claims in its header, when its key_len fits in it ("" otherwise).
std::string claimed_key(std::span<const std::uint8_t> b) {
  if (b.size() < fc::kEntryHeaderBytes) return "";
  std::uint32_t len = 0;
  for (int i = 0; i < 4; ++i) len |= std::uint32_t{b[16 + i]} << (8 * i);
  if (len > b.size() - fc::kEntryHeaderBytes) return "";
  return std::string(reinterpret_cast<const char*>(b.data() + fc::kEntryHeaderBytes), len);
}

// decode_entry of `bytes` for `key`; a success must round-trip through encode_entry.
void decode_and_check(std::span<const std::uint8_t> bytes, const std::string& key) {
  const fc::DecodeResult r = fc::decode_entry(bytes, key);
  require(r.ok() == r.error.empty());
  require(r.ok() == (r.problem == fc::DecodeProblem::none));
  // The head decoder agrees with the full one whenever the checksum is right.
  const fc::DecodeResult head = fc::decode_entry_head(bytes, bytes.size(), key);
  if (r.ok()) require(head.ok() && head.entry->meta == r.entry->meta);
  if (!r.ok()) return;
  const fc::Entry& e = *r.entry;
  require(e.key == key && !e.target.empty() && e.meta.is_object() && !e.meta.contains("target"));
  std::vector<std::uint8_t> again;
  try {
    again = fc::encode_entry(e);
  } catch (...) {
    std::abort();  // whatever decodes must be encodable
  }
  const fc::DecodeResult back = fc::decode_entry(again, key);
  require(back.ok());
  require(back.entry->target == e.target && back.entry->meta == e.meta &&
          back.entry->binary == e.binary && back.entry->source == e.source);
}

}  // namespace

int fp8jit_fuzz_cache_entry(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  const std::string key = claimed_key(bytes);
  decode_and_check(bytes, key);
  decode_and_check(bytes, "0123456789abcdef0123456789abcdef");
  // The head decoder on every prefix length it may be given by a listing.
  const std::uint64_t need = fc::entry_head_bytes(bytes, size);
  require(need <= size);
  (void)fc::decode_entry_head(bytes.first(std::min<std::size_t>(size, fc::kEntryHeaderBytes)),
                              size, key);
  // Re-sealed: the checksum fixed up, so that the checks behind it (key, metadata) are fuzzed.
  if (size >= fc::kEntryHeaderBytes + fc::kEntryChecksumBytes) {
    std::vector<std::uint8_t> sealed(bytes.begin(), bytes.end());
    const std::size_t body = size - fc::kEntryChecksumBytes;
    const auto sum = fc::hash128(std::span<const std::uint8_t>(sealed).first(body));
    std::copy(sum.begin(), sum.end(), sealed.begin() + static_cast<std::ptrdiff_t>(body));
    decode_and_check(sealed, key);
  }
  return 0;
}
