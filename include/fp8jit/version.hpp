// fp8jit — which library this is: its build id.
#pragma once

namespace fp8jit {

// The build id: 16 lowercase hex digits hashing every source file of the library (cache/,
// compiler/, runtime/, include/, templates/ and the CMake files that build them), computed when
// the library is built. Two builds share it exactly when they were built from the same sources.
// It is part of every kernel-cache key, so that a library whose sources changed (say, how it
// reads cache metadata) never reuses entries written by another build, and it is recorded in each
// entry's metadata as `build_id`. Never null; static storage.
const char* build_id() noexcept;

}  // namespace fp8jit
