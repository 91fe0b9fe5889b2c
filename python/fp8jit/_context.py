"""A device (a GPU, or the CPU emulator) through the C ABI: pointers in, status codes out.

Pointers are plain ints (device addresses; host addresses on an emulated device); streams are
the vendor's stream handle as an int (0: the default stream). The torch module builds on this.
"""
import contextlib
import ctypes

from . import _lib

_OUT_DTYPES = {"bf16": _lib.BF16, "fp16": _lib.FP16, _lib.BF16: _lib.BF16, _lib.FP16: _lib.FP16}


def out_dtype_code(out_dtype):
    """The fp8jit_dtype of "bf16" / "fp16" (or of the code itself); ValueError otherwise."""
    try:
        return _OUT_DTYPES[out_dtype]
    except (KeyError, TypeError):
        raise ValueError(f"out_dtype {out_dtype!r} is neither 'bf16' nor 'fp16'") from None


def packed_k(k):
    """K as a packed weight stores it: rounded up to a multiple of 32 (the columns past K zeros)."""
    return (k + 31) // 32 * 32


class Context:
    """One device with its compiler, kernel cache and plans (fp8jit_context).

    `device`: a GPU ordinal of the vendor runtime; negative takes FP8JIT_DEVICE (default 0). With
    FP8JIT_TARGET=emu-gfx942 / emu-gfx950 / emu-sm89 set, the device is the CPU emulation of
    that target, whose "device memory" is host memory (see host_memory()).
    """

    def __init__(self, device=-1):
        self._lib = _lib.library()
        handle = ctypes.c_void_p()
        _lib.check(self._lib.fp8jit_context_create(device, ctypes.byref(handle)),
                   f"failed to open fp8jit device {device}")
        self._handle = handle
        try:
            buf = ctypes.create_string_buffer(64)
            _lib.check(self._lib.fp8jit_context_target(handle, buf, len(buf)),
                       "failed to get the context's target")
            self.target = buf.value.decode()
            fmt = ctypes.c_int()
            _lib.check(self._lib.fp8jit_context_fp8_format(handle, ctypes.byref(fmt)),
                       "failed to get the context's fp8 format")
            self.fp8_format = "e4m3fn" if fmt.value == _lib.E4M3FN else "e4m3fnuz"
        except BaseException:
            self.close()
            raise

    @property
    def emulated(self):
        """Whether this is the CPU emulation of a GPU (FP8JIT_TARGET=emu-*)."""
        return self.target.startswith("emu-")

    @property
    def handle(self):
        if self._handle is None:
            raise ValueError("the fp8jit Context is closed")
        return self._handle

    def close(self):
        """Destroys the context. Plans made with it must be closed first."""
        if getattr(self, "_handle", None) is not None:
            self._lib.fp8jit_context_destroy(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def __repr__(self):
        return f"fp8jit.Context(target={self.target!r})"

    def packed_weight_bytes(self, n, k):
        """Bytes of an [n, k] weight packed for this device: n * packed_k(k)."""
        size = ctypes.c_size_t()
        _lib.check(self._lib.fp8jit_packed_weight_bytes(self.handle, n, k, ctypes.byref(size)),
                   "failed to size a packed weight")
        return size.value

    def pack_weight_into(self, w, n, k, packed, packed_bytes, stream=0):
        """Packs the row-major [n, k] fp8 weight at `w` into `packed` (packed_bytes of it)."""
        _lib.check(self._lib.fp8jit_pack_weight_into(self.handle, w, n, k, packed, packed_bytes,
                                                      stream or None),
                   "failed to pack a weight")

    def gemm_packed(self, a, sa, packed, sw, n, k, bias, out, m, out_dtype="bf16", stream=0):
        """out[m, n] = sa * sw * (A . W^T) + bias with a weight packed by pack_weight_into."""
        _lib.check(self._lib.fp8jit_gemm_packed(self.handle, a, sa, packed, sw, n, k, bias or None,
                                                 out, m, out_dtype_code(out_dtype),
                                                 stream or None),
                   "failed to run an fp8 GEMM")

    def plan(self, packed, sw, n, k, out_dtype="bf16", has_bias=False):
        """A Plan: the kernel of every M for this packed weight, compiled or loaded now."""
        return Plan(self, packed, sw, n, k, out_dtype, has_bias)

    def synchronize(self, stream=0):
        """Waits for `stream` (0: all work); reports an earlier fault of the device."""
        _lib.check(self._lib.fp8jit_synchronize(self.handle, stream or None), "failed to synchronize")

    @contextlib.contextmanager
    def host_memory(self, *ranges):
        """Emulated devices: lets kernels access each (address, bytes) of host memory inside the
        `with` block (NumPy arrays, torch CPU tensors). Accesses outside them stay faults."""
        done = []
        try:
            for ptr, size in ranges:
                _lib.check(self._lib.fp8jit_host_memory_register(self.handle, ptr, size),
                           "failed to register host memory")
                done.append((ptr, size))
            yield
        finally:
            for ptr, size in done:
                self._lib.fp8jit_host_memory_unregister(self._handle, ptr, size)


class Plan:
    """The kernels of one packed weight for every M (fp8jit_plan): a call is a lookup and a launch,
    and loads nothing, so that it can be captured into a CUDA graph. References the packed bytes
    and scales, which must outlive it."""

    def __init__(self, context, packed, sw, n, k, out_dtype="bf16", has_bias=False):
        self._context = context  # kept alive while the plan is
        self._lib = context._lib
        self.n, self.k, self.has_bias = n, k, bool(has_bias)
        self.out_dtype = out_dtype_code(out_dtype)
        handle = ctypes.c_void_p()
        _lib.check(self._lib.fp8jit_plan_create(context.handle, packed, sw, n, k, self.out_dtype,
                                                 int(self.has_bias), ctypes.byref(handle)),
                   f"failed to plan the GEMMs of an [{n}, {k}] weight")
        self._handle = handle

    def gemm(self, a, sa, bias, out, m, stream=0):
        _lib.check(self._lib.fp8jit_plan_gemm(self._handle, a, sa, bias or None, out, m,
                                               stream or None),
                   "failed to run an fp8 GEMM")

    def close(self):
        if getattr(self, "_handle", None) is not None:
            self._lib.fp8jit_plan_destroy(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
