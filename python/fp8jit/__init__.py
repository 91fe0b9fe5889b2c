"""fp8jit: JIT-compiled FP8 GEMM kernels for the W8A8 linear layer (per-token activation scales x
per-channel weight scales, pre-shuffled weights).

    out[m, n] = cast<bf16|fp16>( sa[m] * sw[n] * sum_k A[m, k] * W[n, k] + bias[n] )

- `fp8jit.torch`: the PyTorch ops (torch.ops.fp8jit.scaled_mm, pack_weight, prepare).
- `fp8jit.Context`: the C ABI with pointers, for hosts without torch.
- `python -m fp8jit ...`: the `fp8jit` command.
"""
from ._context import Context, Plan, packed_k
from ._lib import (COMMAND_PATH, LIBRARY_PATH, CacheError, CompileError, DriverError, Error,
                   InvalidArgumentError)

__all__ = ["Context", "Plan", "packed_k", "version", "Error", "InvalidArgumentError", "DriverError",
           "CompileError", "CacheError", "LIBRARY_PATH", "COMMAND_PATH"]


def version():
    """The library's version, "MAJOR.MINOR.PATCH"."""
    from ._lib import library
    return library().fp8jit_version().decode()
