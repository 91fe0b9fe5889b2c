// Byte counts as people write them ("8G", "512M", "100000"): one reader for the environment
// (FP8JIT_CACHE_MAX_BYTES) and the fp8jit command (cache prune --max-bytes).
#pragma once

#include <cstdint>
#include <string_view>

namespace fp8jit::util {

// Parses the whole of `text` as a byte count: decimal digits, then at most one suffix K, M or G
// (either case; powers of 1024). Throws InvalidArgument naming `what` (the variable or option the
// text came from), the text and the rule for anything else: an empty string, a sign, a blank,
// another suffix or trailing text, or a count above 2^64 - 1 bytes.
std::uint64_t parse_bytes(std::string_view text, std::string_view what);

}  // namespace fp8jit::util
