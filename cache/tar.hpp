// The small part of POSIX ustar (IEEE Std 1003.1, pax "ustar" interchange format) that cache
// archives need: regular-file members written with 512-byte headers, read back one at a time
// from a stream without trusting anything in it.
//
//   archive := member* end
//   member  := header(512) data padded with NULs to a multiple of 512
//   end     := two all-NUL 512-byte blocks
//   header  := name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag[1]
//              linkname[100] magic[6]="ustar\0" version[2]="00" uname[32] gname[32]
//              devmajor[8] devminor[8] prefix[155] pad[12]
//   Numbers are octal ASCII, NUL- or space-terminated. chksum is the sum of the header's bytes
//   with chksum itself read as eight spaces. A path is prefix + "/" + name when prefix is set.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace fp8jit::cache::tar {

constexpr std::size_t kBlock = 512;

// Writes one regular-file member (mode 0644, owner 0). Throws InvalidArgument when `path` does not
// fit a ustar header (name ≤ 100 bytes, or a split at a '/' into prefix ≤ 155 and name ≤ 100)
// or the data is 8 GiB or more.
void write_member(std::ostream& out, const std::string& path, std::span<const std::uint8_t> data,
                  std::int64_t mtime);
// Writes the two end blocks.
void write_end(std::ostream& out);

struct Member {
  std::string path;  // prefix + "/" + name as stored (not validated)
  char type = '0';   // typeflag; '\0' is returned as '0'
  std::uint64_t size = 0;
  std::vector<std::uint8_t> data;  // read only for regular files of at most the reader's limit
  std::string problem;             // set when the data was skipped (too large) or short
};

// Reads members from a stream. Allocates no more than the bytes the stream really holds (data is
// read in chunks), and at most `max_data_bytes` per member: a larger member is skipped with a
// problem. After a structural error (bad header checksum, bad number, truncated stream) the
// reader stops: a tar stream cannot be resynchronized reliably.
class Reader {
 public:
  Reader(std::istream& in, std::uint64_t max_data_bytes);

  // The next member, or nullopt at the end of the archive or after an error (then error() is
  // set). Members of any type are returned; only regular files carry data.
  std::optional<Member> next();
  // Why reading stopped early; empty at a clean end.
  const std::string& error() const { return error_; }
  // Offset in the stream of the block being read.
  std::uint64_t offset() const { return offset_; }

 private:
  bool read_block(std::uint8_t* block);
  bool skip(std::uint64_t bytes);

  std::istream& in_;
  std::uint64_t max_data_bytes_;
  std::uint64_t offset_ = 0;
  bool done_ = false;
  std::string error_;
};

}  // namespace fp8jit::cache::tar
