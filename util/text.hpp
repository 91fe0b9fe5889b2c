// Text helpers for messages that quote what a user or a file supplied.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fp8jit::util {

// `v` as it may appear in a message: printable ASCII as is, a backslash as "\\", every other
// byte as "\xNN" (so a binary file's bytes never reach the terminal raw), cut after `max_bytes`
// input bytes with "..." appended.
std::string escaped(std::string_view v, std::size_t max_bytes = 80);

// `p` as "%p" prints it ("0x7f3c2a000000"; "(nil)" for null): how messages name a device or host
// address.
std::string address(const void* p);

}  // namespace fp8jit::util
