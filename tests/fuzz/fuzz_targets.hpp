// The fuzz targets: one function per input format, `int fp8jit_fuzz_<name>(data, size)` in the
// global namespace with C++ linkage, defined in tests/fuzz/fuzz_<name>.cpp. Each returns 0 and
// never crashes, hangs or allocates without bound on any input; a broken invariant aborts (or
// throws std::logic_error), which libFuzzer reports as a finding.
//
// They are built twice: into fp8jit_tests, where test_fuzz_corpus.cpp replays every file of
// tests/fuzz/corpus/<name>/ through fp8jit_fuzz_<name>, and, with -DFP8JIT_FUZZ=ON and clang
// (cmake/fuzz.cmake), into libFuzzer executables fuzz_<name>.
#pragma once

#include <cstddef>
#include <cstdint>

// The cache-entry reader: decode_entry (as is, and re-sealed so that the checks behind the
// checksum are reached) and decode_entry_head.
int fp8jit_fuzz_cache_entry(const std::uint8_t* data, std::size_t size);
// The archive reader of `fp8jit cache import`: the bytes are a tar stream (scan_archive).
int fp8jit_fuzz_cache_archive(const std::uint8_t* data, std::size_t size);
// The tuned-table reader (tests/fuzz/fuzz_tuned_table.cpp).
int fp8jit_fuzz_tuned_table(const std::uint8_t* data, std::size_t size);
