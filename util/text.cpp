#include "util/text.hpp"

#include <cstdio>

namespace fp8jit::util {

std::string escaped(std::string_view v, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (const char ch : v.substr(0, max_bytes)) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '\\')
      s += "\\\\";
    else if (u >= 0x20 && u < 0x7f)
      s += ch;
    else
      s += std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
  }
  if (v.size() > max_bytes) s += "...";
  return s;
}

std::string address(const void* p) {
  char buf[2 + 2 * sizeof(void*) + 1];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

}  // namespace fp8jit::util
