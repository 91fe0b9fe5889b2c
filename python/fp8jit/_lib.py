"""The shared library inside the package, loaded with ctypes, and its C ABI (include/fp8jit/fp8jit.h).

ctypes rather than a CPython extension: the library has no Python in it, so one wheel serves
every CPython >= 3.9.
"""
import ctypes
import os
import threading

_HERE = os.path.dirname(os.path.abspath(__file__))
# Laid out like an install prefix (cmake/install.cmake, component `python`): the library and the
# command find the tuned tables in share/fp8jit/tuned beside their lib/ and bin/.
# FP8JIT_LIBRARY (read once, here) names another libfp8jit.so: a build tree's build/libfp8jit.so,
# so that the package can run from the source tree (PYTHONPATH=python) without `pip install`.
_LIBRARY_OVERRIDE = os.environ.get("FP8JIT_LIBRARY", "")
LIBRARY_PATH = _LIBRARY_OVERRIDE or os.path.join(_HERE, "lib", "libfp8jit.so")
COMMAND_PATH = os.path.join(_HERE, "bin", "fp8jit")

OK = 0
STATUS_NAMES = ("OK", "INVALID_ARGUMENT", "DRIVER", "COMPILE", "CACHE", "OTHER")
BF16, FP16 = 0, 1  # fp8jit_dtype
E4M3FN, E4M3FNUZ = 0, 1  # fp8jit_fp8_format


class Error(RuntimeError):
    """A call into fp8jit failed. `status` is the C ABI's status name ("DRIVER", ...)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class InvalidArgumentError(Error, ValueError):
    """An argument broke a rule of the library (a shape, a pointer, a dtype); the message names it."""


class DriverError(Error):
    """No GPU driver or device, or a driver call failed (a GPU fault too)."""


class CompileError(Error):
    """A kernel failed to compile; the message holds the compiler log, options and spec."""


class CacheError(Error):
    """The on-disk kernel cache could not be read or written."""


_ERRORS = {1: InvalidArgumentError, 2: DriverError, 3: CompileError, 4: CacheError}

_vp, _i64, _int, _size = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_size_t
_SIGNATURES = {
    "fp8jit_version": (ctypes.c_char_p, []),
    "fp8jit_last_error": (ctypes.c_char_p, []),
    "fp8jit_context_create": (_int, [_int, ctypes.POINTER(_vp)]),
    "fp8jit_context_destroy": (None, [_vp]),
    "fp8jit_context_target": (_int, [_vp, ctypes.c_char_p, _size]),
    "fp8jit_context_fp8_format": (_int, [_vp, ctypes.POINTER(_int)]),
    "fp8jit_packed_weight_bytes": (_int, [_vp, _i64, _i64, ctypes.POINTER(_size)]),
    "fp8jit_pack_weight_into": (_int, [_vp, _vp, _i64, _i64, _vp, _size, _vp]),
    "fp8jit_gemm_packed": (_int, [_vp, _vp, _vp, _vp, _vp, _i64, _i64, _vp, _vp, _i64, _int, _vp]),
    "fp8jit_plan_create": (_int, [_vp, _vp, _vp, _i64, _i64, _int, _int, ctypes.POINTER(_vp)]),
    "fp8jit_plan_gemm": (_int, [_vp, _vp, _vp, _vp, _vp, _i64, _vp]),
    "fp8jit_plan_destroy": (None, [_vp]),
    "fp8jit_host_memory_register": (_int, [_vp, _vp, _size]),
    "fp8jit_host_memory_unregister": (_int, [_vp, _vp, _size]),
    "fp8jit_synchronize": (_int, [_vp, _vp]),
    "fp8jit_malloc": (_int, [_vp, _size, ctypes.POINTER(_vp)]),
    "fp8jit_free": (_int, [_vp, _vp]),
    "fp8jit_memcpy_h2d": (_int, [_vp, _vp, _vp, _size]),
    "fp8jit_memcpy_d2h": (_int, [_vp, _vp, _vp, _size]),
}

_lock = threading.Lock()
_lib = None


def library():
    """The loaded libfp8jit.so with every function's signature declared (loaded on first use)."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                if not os.path.exists(LIBRARY_PATH):
                    how = ("FP8JIT_LIBRARY names a file that does not exist"
                           if _LIBRARY_OVERRIDE else
                           "install the package with `pip install .` from the repository root, "
                           "or set FP8JIT_LIBRARY to a built libfp8jit.so")
                    raise ImportError(f"fp8jit: the library {LIBRARY_PATH} is missing: {how}")
                lib = ctypes.CDLL(LIBRARY_PATH)
                for name, (restype, argtypes) in _SIGNATURES.items():
                    fn = getattr(lib, name)
                    fn.restype, fn.argtypes = restype, argtypes
                _lib = lib
    return _lib


def check(status, what):
    """Raises the exception of a failed call's status, with fp8jit's message for this thread."""
    if status != OK:
        message = library().fp8jit_last_error().decode(errors="replace")
        cls = _ERRORS.get(status, Error)
        name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
        raise cls(name, f"{what}: {message}")
