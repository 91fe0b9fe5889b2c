// fp8jit_forge_entry IN OUT: writes to OUT the entry file IN with its binary replaced by bytes no
// loader takes, re-encoded so that its checksum, key and target are all valid: the forged entry
// that scripts/attack-cache plants in a cache. A test tool, never installed.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cache/entry.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IN.fp8k OUT\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  std::string key = argv[1];
  key = key.substr(key.rfind('/') + 1);
  key = key.substr(0, key.find('.'));
  fp8jit::cache::DecodeResult d = fp8jit::cache::decode_entry(bytes, key);
  if (!d.ok()) {
    std::fprintf(stderr, "%s: %s\n", argv[1], d.error.c_str());
    return 1;
  }
  d.entry->binary.assign(d.entry->binary.size(), 0x5a);  // the same size, no ELF header
  const std::vector<std::uint8_t> forged = fp8jit::cache::encode_entry(*d.entry);
  std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(forged.data()), static_cast<std::streamsize>(forged.size()));
  return out ? 0 : 1;
}
