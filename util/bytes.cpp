#include "util/bytes.hpp"

#include <charconv>
#include <string>

#include "fp8jit/error.hpp"
#include "util/text.hpp"

namespace fp8jit::util {

std::uint64_t parse_bytes(std::string_view text, std::string_view what) {
  const auto fail = [&](const std::string& why) {
    throw InvalidArgument("failed to read " + std::string(what) + "='" + escaped(text) + "': " +
                          why + "; expected a byte count: digits with an optional K, M or G "
                          "suffix (powers of 1024), e.g. 100000, 512M, 8G");
  };
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (text.empty()) fail("it is empty");
  if (digits == 0) fail("it does not start with a digit");
  std::uint64_t count = 0;
  if (std::from_chars(text.data(), text.data() + digits, count).ec != std::errc())
    fail("it is more than 2^64 - 1 bytes");
  const std::string_view suffix = text.substr(digits);
  int shift = 0;
  if (suffix == "K" || suffix == "k")
    shift = 10;
  else if (suffix == "M" || suffix == "m")
    shift = 20;
  else if (suffix == "G" || suffix == "g")
    shift = 30;
  else if (!suffix.empty())
    fail("'" + escaped(suffix) + "' after the digits is not K, M or G");
  if (count > (UINT64_MAX >> shift)) fail("it is more than 2^64 - 1 bytes");
  return count << shift;
}

}  // namespace fp8jit::util
