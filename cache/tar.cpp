#include "cache/tar.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "fp8jit/error.hpp"

namespace fp8jit::cache::tar {
namespace {

// Field offsets and widths of the ustar header.
constexpr std::size_t kName = 0, kNameLen = 100;
constexpr std::size_t kMode = 100, kUid = 108, kGid = 116, kSize = 124, kMtime = 136;
constexpr std::size_t kChksum = 148, kType = 156, kMagic = 257, kVersion = 263;
constexpr std::size_t kPrefix = 345, kPrefixLen = 155;

using Block = std::array<std::uint8_t, kBlock>;

// Writes `value` as `width - 1` octal digits and a NUL; false when it does not fit.
bool put_octal(Block& b, std::size_t at, std::size_t width, std::uint64_t value) {
  for (std::size_t i = width - 1; i-- > 0;) {
    b[at + i] = static_cast<std::uint8_t>('0' + (value & 7));
    value >>= 3;
  }
  b[at + width - 1] = 0;
  return value == 0;
}

// An octal field: optional leading spaces, digits, then NUL/space padding to the end.
std::optional<std::uint64_t> get_octal(const Block& b, std::size_t at, std::size_t width) {
  std::size_t i = at, end = at + width;
  while (i < end && b[i] == ' ') ++i;
  std::uint64_t value = 0;
  std::size_t digits = 0;
  for (; i < end && b[i] >= '0' && b[i] <= '7'; ++i, ++digits) {
    if (value >> 60) return std::nullopt;  // would overflow
    value = value * 8 + (b[i] - '0');
  }
  for (; i < end; ++i)
    if (b[i] != 0 && b[i] != ' ') return std::nullopt;
  if (digits == 0) return std::nullopt;
  return value;
}

// Sum of the header bytes with the checksum field read as spaces.
std::uint64_t checksum_of(const Block& b) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) sum += (i >= kChksum && i < kChksum + 8) ? ' ' : b[i];
  return sum;
}

// Historic writers summed signed chars; accept that too.
std::int64_t signed_checksum_of(const Block& b) {
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i)
    sum += (i >= kChksum && i < kChksum + 8) ? ' ' : static_cast<std::int8_t>(b[i]);
  return sum;
}

std::string field_string(const Block& b, std::size_t at, std::size_t width) {
  const auto* p = reinterpret_cast<const char*>(b.data() + at);
  return std::string(p, strnlen(p, width));
}

std::uint64_t padded(std::uint64_t size) { return (size + kBlock - 1) / kBlock * kBlock; }

}  // namespace

void write_member(std::ostream& out, const std::string& path, std::span<const std::uint8_t> data,
                  std::int64_t mtime) {
  Block b{};
  std::string prefix, name = path;
  if (name.size() > kNameLen) {
    // Split at the first '/' that leaves a name short enough.
    std::size_t cut = std::string::npos;
    for (std::size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '/' && path.size() - i - 1 <= kNameLen && i <= kPrefixLen) {
        cut = i;
        break;
      }
    }
    if (cut == std::string::npos || cut == 0 || cut + 1 == path.size())
      throw InvalidArgument("failed to write tar member " + path + ": path too long for ustar");
    prefix = path.substr(0, cut);
    name = path.substr(cut + 1);
  }
  std::memcpy(b.data() + kName, name.data(), name.size());
  std::memcpy(b.data() + kPrefix, prefix.data(), prefix.size());
  put_octal(b, kMode, 8, 0644);
  put_octal(b, kUid, 8, 0);
  put_octal(b, kGid, 8, 0);
  if (!put_octal(b, kSize, 12, data.size()))
    throw InvalidArgument("failed to write tar member " + path + ": 8 GiB or more");
  put_octal(b, kMtime, 12, mtime > 0 ? static_cast<std::uint64_t>(mtime) : 0);
  b[kType] = '0';
  std::memcpy(b.data() + kMagic, "ustar", 6);  // with its NUL
  std::memcpy(b.data() + kVersion, "00", 2);
  // chksum: six octal digits, NUL, space.
  put_octal(b, kChksum, 7, checksum_of(b));
  b[kChksum + 7] = ' ';
  out.write(reinterpret_cast<const char*>(b.data()), kBlock);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  static const Block zeros{};
  out.write(reinterpret_cast<const char*>(zeros.data()),
            static_cast<std::streamsize>(padded(data.size()) - data.size()));
}

void write_end(std::ostream& out) {
  static const Block zeros{};
  out.write(reinterpret_cast<const char*>(zeros.data()), kBlock);
  out.write(reinterpret_cast<const char*>(zeros.data()), kBlock);
}

Reader::Reader(std::istream& in, std::uint64_t max_data_bytes)
    : in_(in), max_data_bytes_(max_data_bytes) {}

bool Reader::read_block(std::uint8_t* block) {
  in_.read(reinterpret_cast<char*>(block), kBlock);
  const auto got = static_cast<std::uint64_t>(in_.gcount());
  offset_ += got;
  return got == kBlock;
}

bool Reader::skip(std::uint64_t bytes) {
  char sink[4096];
  while (bytes > 0) {
    const auto n = static_cast<std::streamsize>(std::min<std::uint64_t>(bytes, sizeof sink));
    in_.read(sink, n);
    const auto got = static_cast<std::uint64_t>(in_.gcount());
    offset_ += got;
    bytes -= got;
    if (got == 0) return false;
  }
  return true;
}

std::optional<Member> Reader::next() {
  if (done_) return std::nullopt;
  const auto stop = [&](std::string why) -> std::optional<Member> {
    done_ = true;
    error_ = "damaged archive at byte " + std::to_string(offset_) + ": " + std::move(why);
    return std::nullopt;
  };
  Block b;
  const std::uint64_t at = offset_;
  if (!read_block(b.data())) {
    // NOTE: a stream that ends where a header would start lacks only the end blocks, which some
    // writers omit; a partial block is damage.
    if (offset_ == at) {
      done_ = true;
      return std::nullopt;
    }
    return stop("truncated header");
  }
  if (std::all_of(b.begin(), b.end(), [](std::uint8_t c) { return c == 0; })) {
    done_ = true;  // end of archive (the second end block is not needed)
    return std::nullopt;
  }
  const auto stored = get_octal(b, kChksum, 8);
  if (!stored || (*stored != checksum_of(b) &&
                  static_cast<std::int64_t>(*stored) != signed_checksum_of(b)))
    return stop("header checksum mismatch");
  const auto size = get_octal(b, kSize, 12);
  if (!size) return stop("unreadable size field");

  Member m;
  m.type = b[kType] == 0 ? '0' : static_cast<char>(b[kType]);
  m.size = *size;
  m.path = field_string(b, kName, kNameLen);
  // Only POSIX ustar ("ustar\0") has a prefix field; GNU's "ustar  " uses those bytes otherwise.
  if (std::memcmp(b.data() + kMagic, "ustar", 6) == 0) {
    const std::string prefix = field_string(b, kPrefix, kPrefixLen);
    if (!prefix.empty()) m.path = prefix + "/" + m.path;
  }
  // Only regular files ('0', and '7' contiguous files) carry data we read; links and
  // directories carry none in ustar whatever the size field says; other types' data is skipped.
  const bool regular = m.type == '0' || m.type == '7';
  const bool has_data = m.type != '1' && m.type != '2' && m.type != '3' && m.type != '4' &&
                        m.type != '5' && m.type != '6';
  if (!has_data) {
    m.size = 0;
    return m;
  }
  if (!regular || m.size > max_data_bytes_) {
    if (regular)
      m.problem = std::to_string(m.size) + " bytes, more than any entry (" +
                  std::to_string(max_data_bytes_) + ")";
    if (!skip(padded(m.size))) return stop("truncated data of " + m.path);
    return m;
  }
  // Read in chunks, so that a lying size costs no more memory than the stream holds.
  constexpr std::uint64_t kChunk = 1 << 20;
  while (m.data.size() < m.size) {
    const std::uint64_t n = std::min<std::uint64_t>(kChunk, m.size - m.data.size());
    const std::size_t old = m.data.size();
    m.data.resize(old + n);
    in_.read(reinterpret_cast<char*>(m.data.data() + old), static_cast<std::streamsize>(n));
    const auto got = static_cast<std::uint64_t>(in_.gcount());
    offset_ += got;
    if (got != n) return stop("truncated data of " + m.path);
  }
  if (!skip(padded(m.size) - m.size)) return stop("truncated padding of " + m.path);
  return m;
}

}  // namespace fp8jit::cache::tar
