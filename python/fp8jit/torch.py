"""fp8jit as PyTorch ops: torch.ops.fp8jit.scaled_mm (and scaled_mm_out), with fake
implementations, so that they run eagerly, under torch.compile(fullgraph=True) and inside CUDA
graph capture, on torch's current stream. Every buffer comes from torch's allocator.

    import fp8jit.torch as ft
    pw = ft.pack_weight(w, w_scale)        # once: w [N, K] fp8 (or its [K, N] transposed view)
    ft.prepare(pw, bias=True)              # optional: every kernel now, none during a capture
    out = ft.scaled_mm(a, a_scale, pw, bias, out_dtype=torch.bfloat16)

Tensors are on a CUDA (or ROCm) device, or on the CPU when FP8JIT_TARGET names an emulated
device (emu-sm89, emu-gfx942, emu-gfx950; slow, for tests). fp8 tensors are
torch.float8_e4m3fn, or torch.float8_e4m3fnuz where the device consumes that (gfx942).
"""
import contextlib
import threading
import weakref
from typing import NamedTuple

import torch

from . import _lib
from ._context import Context, packed_k

_OUT_DTYPES = {torch.bfloat16: _lib.BF16, torch.float16: _lib.FP16}
_FP8_DTYPES = {"e4m3fn": torch.float8_e4m3fn, "e4m3fnuz": torch.float8_e4m3fnuz}


class PackedWeight(NamedTuple):
    """A weight packed for the device's kernels by pack_weight: `packed` (uint8 [N, K rounded up
    to 32]: opaque bytes in the device's layout, the padding columns zeros), `scale` (float32
    [N]), both allocated by torch, and the weight's K."""
    packed: torch.Tensor
    scale: torch.Tensor
    k: int


# ---- devices --------------------------------------------------------------------------------

_contexts = {}
_contexts_lock = threading.Lock()


def context(device):
    """The fp8jit Context of a torch device (one per device, made on first use). A CPU device
    needs FP8JIT_TARGET=emu-*; a CUDA device needs it unset."""
    device = torch.device(device)
    key = (device.type, device.index if device.type != "cpu" else None)
    if device.type == "cuda" and key[1] is None:
        key = ("cuda", torch.cuda.current_device())
    ctx = _contexts.get(key)
    if ctx is None:
        if device.type not in ("cpu", "cuda"):
            raise ValueError(f"fp8jit runs on CUDA / ROCm devices (or the CPU emulator), not on "
                             f"{device.type}")
        with _contexts_lock:
            ctx = _contexts.get(key)
            if ctx is None:
                cpu_rule = ("the CPU needs an emulated device: set FP8JIT_TARGET=emu-sm89, "
                            "emu-gfx942 or emu-gfx950")
                try:
                    ctx = Context(-1 if device.type == "cpu" else key[1])
                except _lib.DriverError as e:
                    if device.type != "cpu":
                        raise
                    # Without FP8JIT_TARGET the context is a GPU's, and there is none.
                    raise ValueError(f"fp8jit cannot run on {device}: {cpu_rule} ({e})") from None
                if (device.type == "cpu") != ctx.emulated:
                    what = cpu_rule if device.type == "cpu" else (
                        f"FP8JIT_TARGET makes fp8jit emulate {ctx.target} on the CPU")
                    ctx.close()
                    raise ValueError(f"fp8jit cannot run on {device}: {what}")
                _contexts[key] = ctx
    return ctx


def _context_of(t, name):
    try:
        return context(t.device)
    except ValueError as e:
        raise ValueError(f"tensor '{name}' is on {t.device}: {e}") from None


_raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)


def _stream(ctx, device):
    """The current torch stream of `device` as a vendor stream handle (0 on the emulator)."""
    if ctx.emulated:
        return 0
    if _raw_stream is not None:
        return _raw_stream(device.index)
    return torch.cuda.current_stream(device).cuda_stream


# ---- checks: each names the tensor and the rule -----------------------------------------------

def _need_tensor(t, name):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"'{name}' must be a torch.Tensor, got {type(t).__name__}")


def _need_dtype(t, name, dtype):
    if t.dtype != dtype:
        raise TypeError(f"tensor '{name}' is {t.dtype}, must be {dtype}")


def _need_device(t, name, device):
    if t.device != device:
        raise ValueError(f"tensor '{name}' is on {t.device}, must be on {device} (where 'a' is)")


def _need_row_major(t, name):
    if not t.is_contiguous():
        raise ValueError(f"tensor '{name}' of shape {tuple(t.shape)} has strides {t.stride()}: "
                         "it must be contiguous (row-major)")


def _need_aligned(t, name, align=16):
    if t.data_ptr() % align:
        raise ValueError(f"tensor '{name}' starts at {t.data_ptr():#x}, which is not "
                         f"{align}-byte aligned (a slice of a larger tensor? pass a copy)")


def _out_dtype_code(out_dtype):
    if out_dtype not in _OUT_DTYPES:
        raise TypeError(f"out_dtype {out_dtype} is neither torch.bfloat16 nor torch.float16")
    return _OUT_DTYPES[out_dtype]


def _vector_scale(t, name, length, what, allow_row=False):
    """A [length] float32 view (or copy) of a scale tensor given as [length], [length, 1] (or
    [1, length] with allow_row), or one element broadcast (a per-tensor scale)."""
    _need_tensor(t, name)
    _need_dtype(t, name, torch.float32)
    shape = tuple(t.shape)
    forms = [(length,), (length, 1)] + ([(1, length)] if allow_row else [])
    if shape in forms:
        v = t.reshape(length)
    elif t.numel() == 1:
        v = t.reshape(1).expand(length)
    else:
        accepted = ", ".join(f"[{', '.join(map(str, f))}]" for f in forms)
        raise ValueError(f"tensor '{name}' has shape {list(shape)}: {what} scales must be "
                         f"{accepted} or one element (a per-tensor scale)")
    return v if v.is_contiguous() else v.contiguous()


def _check_gemm(a, a_scale, w_packed, w_scale, bias, out_dtype):
    """Checks what does not need the data (shapes, dtypes, devices); returns (m, n, k)."""
    for t, name in ((a, "a"), (a_scale, "a_scale"), (w_packed, "w_packed"), (w_scale, "w_scale")):
        _need_tensor(t, name)
    _out_dtype_code(out_dtype)
    if a.dim() != 2:
        raise ValueError(f"tensor 'a' has shape {list(a.shape)}: it must be [M, K]")
    if a.dtype not in _FP8_DTYPES.values():
        raise TypeError(f"tensor 'a' is {a.dtype}, must be torch.float8_e4m3fn (or "
                        "torch.float8_e4m3fnuz on gfx942)")
    _need_dtype(w_packed, "w_packed", torch.uint8)
    m, k = a.shape
    if w_packed.dim() != 2 or w_packed.shape[1] != packed_k(k):
        raise ValueError(f"tensor 'w_packed' has shape {list(w_packed.shape)}: for 'a' of K = {k} "
                         f"it must be [N, {packed_k(k)}] (K rounded up to 32), as pack_weight "
                         "makes it")
    n = w_packed.shape[0]
    for t, name in ((a_scale, "a_scale"), (w_packed, "w_packed"), (w_scale, "w_scale")):
        _need_device(t, name, a.device)
    if bias is not None:
        _need_tensor(bias, "bias")
        _need_device(bias, "bias", a.device)
        _need_dtype(bias, "bias", out_dtype)
        if tuple(bias.shape) != (n,):
            raise ValueError(f"tensor 'bias' has shape {list(bias.shape)}: it must be [{n}] (N)")
    return m, n, k


# ---- plans: kernels resolved ahead, per packed weight -----------------------------------------

# (context id, packed address, scale address, N, K, out dtype code, bias) -> fp8jit Plan. A plan
# holds addresses; it is dropped when its packed tensor is freed (weakref.finalize). Were a later
# weight of the same shape to land at the same addresses first, the plan would still be right:
# what it resolved (the kernels) depends only on N, K, the dtype and the bias.
_plans = {}
# The same keys -> (the C function fp8jit_plan_gemm, the plan's handle, the Plan), for _run's fast
# path. NOTE: the tuple holds the Plan, so that a caller holding the tuple keeps the handle alive
# even if the weight's finalizer drops the plan (a GC, in any thread) during its call.
_plan_calls = {}


def _plan_key(ctx, packed_ptr, scale_ptr, n, k, code, has_bias):
    return (id(ctx), packed_ptr, scale_ptr, n, k, code, has_bias)


def prepare(weight, out_dtype=torch.bfloat16, bias=False):
    """Compiles or loads, now, the kernel of every M for `weight` (a PackedWeight) with this
    output dtype and a bias or none, so that scaled_mm with them compiles and loads nothing
    later: call it before a CUDA-graph capture (vLLM: in process_weights_after_loading)."""
    if not isinstance(weight, PackedWeight):
        raise TypeError(f"'weight' must be an fp8jit.torch.PackedWeight, got "
                        f"{type(weight).__name__}")
    ctx = _context_of(weight.packed, "weight.packed")
    code = _out_dtype_code(out_dtype)
    n = weight.packed.shape[0]
    key = _plan_key(ctx, weight.packed.data_ptr(), weight.scale.data_ptr(), n, weight.k, code,
                    bool(bias))
    if key not in _plans:
        plan = ctx.plan(key[1], key[2], n, weight.k, code, bool(bias))
        _plans[key] = plan
        _plan_calls[key] = (plan._lib.fp8jit_plan_gemm, plan._handle, plan)
        weakref.finalize(weight.packed, _forget_plan, key)


def _forget_plan(key):
    _plan_calls.pop(key, None)
    _plans.pop(key, None)


# ---- packing ----------------------------------------------------------------------------------

def _host_memory(ctx, *tensors):
    """On an emulated device, lets its kernels access these CPU tensors for the `with` block."""
    if not ctx.emulated:
        return contextlib.nullcontext()
    return ctx.host_memory(*[(t.data_ptr(), t.numel() * t.element_size())
                             for t in tensors if t is not None and t.numel()])


def pack_weight(w, w_scale):
    """Packs an fp8 weight once, at load time, into the layout of its device's kernels.

    w: [N, K] row-major, or vLLM's [K, N] transposed view of one (strides (1, K)); fp8 of the
    device's encoding; 16-byte aligned. N and K multiples of 16.
    w_scale: float32 per-channel scales, [N], [N, 1] or [1, N], or one element (per-tensor).
    Returns a PackedWeight whose tensors torch allocated on w's device (the scales copied).
    """
    _need_tensor(w, "w")
    if w.dim() != 2:
        raise ValueError(f"tensor 'w' has shape {list(w.shape)}: it must be [N, K] (or the "
                         "[K, N] transposed view of one)")
    ctx = _context_of(w, "w")
    fp8 = _FP8_DTYPES[ctx.fp8_format]
    if w.dtype != fp8:
        raise TypeError(f"tensor 'w' is {w.dtype}, but {ctx.target} consumes {fp8}")
    if w.is_contiguous():
        nk = w
    elif w.t().is_contiguous():
        nk = w.t()  # vLLM keeps the weight as the [K, N] view of a row-major [N, K]
    else:
        raise ValueError(f"tensor 'w' of shape {list(w.shape)} has strides {w.stride()}: it must "
                         "be a row-major [N, K] or the transposed view of one (strides (1, K))")
    n, k = nk.shape
    _need_aligned(nk, "w")
    scale = _vector_scale(w_scale, "w_scale", n, "per-channel", allow_row=True)
    _need_device(w_scale, "w_scale", w.device)
    scale = scale.clone()  # the weight's own copy: later changes to w_scale do not reach it
    try:
        nbytes = ctx.packed_weight_bytes(n, k)
    except _lib.InvalidArgumentError as e:
        raise ValueError(f"tensor 'w' of shape [N, K] = [{n}, {k}] cannot be packed: {e}") from None
    packed = torch.empty((n, packed_k(k)), dtype=torch.uint8, device=w.device)
    assert packed.numel() == nbytes, (packed.numel(), nbytes)
    with _host_memory(ctx, nk, packed):
        ctx.pack_weight_into(nk.data_ptr(), n, k, packed.data_ptr(), nbytes, _stream(ctx, w.device))
    return PackedWeight(packed, scale, int(k))


# ---- the GEMM ---------------------------------------------------------------------------------

# GPU index -> _fast_entry(its Context), for the fast path of _run: filled by _run_checked once
# a call on that GPU has passed every check.
_fast_devices = {}


def _forget_devices():
    """Drops every context, plan and fast-path entry (the next call opens its device again)."""
    _plans.clear()
    _plan_calls.clear()
    _fast_devices.clear()
    _contexts.clear()


def _fast_entry(ctx, fp8):
    """What _run_fast needs of a device: (id of its Context, fp8 dtype, the C function
    fp8jit_gemm_packed, the context's handle, the Context, which the entry keeps alive)."""
    return (id(ctx), fp8, ctx._lib.fp8jit_gemm_packed, ctx.handle, ctx)


def _run(a, a_scale, w_packed, w_scale, bias, out):
    """One fp8jit call writing `out` on torch's current stream (through the weight's plan when
    prepare() made one).

    NOTE: the common case on a GPU (operands as vLLM passes them: [M, 1] or [M] and [N] or [N, 1]
    scales, everything contiguous and on one device) is recognised by one expression of cheap
    tensor attributes (_run_fast) and launched through the C function itself: every attribute
    read and every call level is host time on each GEMM (bench/llama_mlp.py measures it).
    Anything else, and every failure, goes through _run_checked, which names the tensor and the
    rule."""
    dev = a.get_device()
    entry = _fast_devices.get(dev)
    if entry is not None:
        try:
            if _run_fast(entry, dev, a, a_scale, w_packed, w_scale, bias, out):
                return
        except AttributeError:
            pass  # an operand that is not a tensor: the checks name it
    _run_checked(a, a_scale, w_packed, w_scale, bias, out)


def _run_fast(entry, dev, a, a_scale, w_packed, w_scale, bias, out):
    """Launches and returns True when every operand has the common form on device `dev` (a's;
    -1, the CPU, only in tests on the emulator); False (nothing done) otherwise."""
    form = _common_form(entry[1], dev, a, a_scale, w_packed, w_scale, bias, out.dtype)
    if (form is None or out.shape != (form[0], form[1]) or not out.is_contiguous()
            or out.get_device() != dev):
        return False
    out_ptr = out.data_ptr()
    if out_ptr % 16:
        return False
    _launch_fast(entry, dev, form, a, a_scale, w_packed, w_scale, bias, out_ptr)
    return True


def _new_fast(entry, dev, a, a_scale, w_packed, w_scale, bias, out_dtype):
    """_run_fast into a new output, which is returned; None (nothing done) when the operands do
    not have the common form. The output, torch's allocation, needs none of _run_fast's checks
    of `out`."""
    form = _common_form(entry[1], dev, a, a_scale, w_packed, w_scale, bias, out_dtype)
    if form is None:
        return None
    out = torch.empty(form[0], form[1], dtype=out_dtype, device=a.device)
    _launch_fast(entry, dev, form, a, a_scale, w_packed, w_scale, bias, out.data_ptr())
    return out


def _common_form(fp8, dev, a, a_scale, w_packed, w_scale, bias, out_dtype):
    """(M, N, K, the output dtype's code) when a, the scales, the packed weight and the bias have
    the common form on device `dev` (every check _run_checked makes of them), else None."""
    shape = a.shape
    if len(shape) != 2:
        return None
    m, k = shape
    n = w_packed.shape[0]
    code = _OUT_DTYPES.get(out_dtype)
    sa_shape, sw_shape = a_scale.shape, w_scale.shape
    if not (m > 0 and code is not None and a.dtype is fp8 and w_packed.dtype is torch.uint8
            and a_scale.dtype is torch.float32 and w_scale.dtype is torch.float32
            and w_packed.shape[1] == (k + 31) // 32 * 32
            and (sa_shape == (m, 1) or sa_shape == (m,))
            and (sw_shape == (n,) or sw_shape == (n, 1))
            and a.is_contiguous() and w_packed.is_contiguous()
            and a_scale.is_contiguous() and w_scale.is_contiguous()
            and w_packed.get_device() == dev
            and a_scale.get_device() == dev and w_scale.get_device() == dev
            and (bias is None or (bias.dtype is out_dtype and bias.shape == (n,)
                                  and bias.is_contiguous() and bias.get_device() == dev))
            and not (a.data_ptr() | w_packed.data_ptr()) % 16):
        return None
    return m, n, k, code


def _launch_fast(entry, dev, form, a, a_scale, w_packed, w_scale, bias, out_ptr):
    """The launch of _run_fast and _new_fast: through the weight's plan when prepare() made one,
    else through fp8jit_gemm_packed."""
    _, _, gemm_packed, ctx_handle, _ = entry
    m, n, k, code = form
    a_ptr, packed_ptr, sw_ptr = a.data_ptr(), w_packed.data_ptr(), w_scale.data_ptr()
    bias_ptr = None if bias is None else bias.data_ptr()
    stream = (_raw_stream(dev) or None) if dev >= 0 else None
    call = _plan_calls.get((entry[0], packed_ptr, sw_ptr, n, k, code, bias is not None))
    if call is not None:
        status = call[0](call[1], a_ptr, a_scale.data_ptr(), bias_ptr, out_ptr, m, stream)
    else:
        status = gemm_packed(ctx_handle, a_ptr, a_scale.data_ptr(), packed_ptr, sw_ptr, n, k,
                             bias_ptr, out_ptr, m, code, stream)
    if status:
        _lib.check(status, "failed to run an fp8 GEMM")


def _run_checked(a, a_scale, w_packed, w_scale, bias, out):
    """_run with every operand checked first, each failure naming the tensor and the rule."""
    m, n, k = _check_gemm(a, a_scale, w_packed, w_scale, bias, out.dtype)
    _need_device(out, "out", a.device)
    if tuple(out.shape) != (m, n):
        raise ValueError(f"tensor 'out' has shape {list(out.shape)}: it must be [{m}, {n}] (M, N)")
    ctx = _context_of(a, "a")
    fp8 = _FP8_DTYPES[ctx.fp8_format]
    if a.dtype != fp8:
        raise TypeError(f"tensor 'a' is {a.dtype}, but {ctx.target} consumes {fp8}")
    for t, name in ((a, "a"), (w_packed, "w_packed"), (out, "out")):
        _need_row_major(t, name)
        _need_aligned(t, name)
    if bias is not None:
        _need_row_major(bias, "bias")
    if not ctx.emulated and _raw_stream is not None:
        _fast_devices[a.get_device()] = _fast_entry(ctx, fp8)
    if m == 0:
        return
    sa = _vector_scale(a_scale, "a_scale", m, "per-token")
    sw = _vector_scale(w_scale, "w_scale", n, "per-channel", allow_row=True)
    code = _OUT_DTYPES[out.dtype]
    has_bias = bias is not None
    bias_ptr = bias.data_ptr() if has_bias else 0
    stream = _stream(ctx, a.device)
    plan = _plans.get(_plan_key(ctx, w_packed.data_ptr(), sw.data_ptr(), n, k, code, has_bias))
    with _host_memory(ctx, a, sa, w_packed, sw, bias, out):
        if plan is not None:
            plan.gemm(a.data_ptr(), sa.data_ptr(), bias_ptr, out.data_ptr(), m, stream)
        else:
            ctx.gemm_packed(a.data_ptr(), sa.data_ptr(), w_packed.data_ptr(), sw.data_ptr(), n, k,
                            bias_ptr, out.data_ptr(), m, code, stream)


def _scaled_mm(a, a_scale, w_packed, w_scale, bias=None, out_dtype=None):
    if out_dtype is None:
        out_dtype = torch.bfloat16
    try:  # (called directly, not through the op, the operands may be anything)
        dev = a.get_device()
        entry = _fast_devices.get(dev)
        if entry is not None:
            out = _new_fast(entry, dev, a, a_scale, w_packed, w_scale, bias, out_dtype)
            if out is not None:
                return out
    except AttributeError:
        pass  # an operand that is not a tensor: the checks below name it
    if out_dtype not in _OUT_DTYPES:
        _out_dtype_code(out_dtype)  # raises, naming the dtype
    try:
        two_d = a.dim() == 2 and w_packed.dim() == 2
    except AttributeError:
        two_d = False
    if not two_d:
        _check_gemm(a, a_scale, w_packed, w_scale, bias, out_dtype)  # raises, naming the tensor
    out = torch.empty(a.shape[0], w_packed.shape[0], dtype=out_dtype, device=a.device)
    _run(a, a_scale, w_packed, w_scale, bias, out)
    return out


def _scaled_mm_fake(a, a_scale, w_packed, w_scale, bias=None, out_dtype=None):
    out_dtype = torch.bfloat16 if out_dtype is None else out_dtype
    m, n, _ = _check_gemm(a, a_scale, w_packed, w_scale, bias, out_dtype)
    return a.new_empty((m, n), dtype=out_dtype)


def _scaled_mm_out(a, a_scale, w_packed, w_scale, bias, out):
    _need_tensor(out, "out")
    _run(a, a_scale, w_packed, w_scale, bias, out)


def _scaled_mm_out_fake(a, a_scale, w_packed, w_scale, bias, out):
    _need_tensor(out, "out")
    _check_gemm(a, a_scale, w_packed, w_scale, bias, out.dtype)


# NOTE: define + impl rather than torch.library.custom_op: the dispatcher calls the Python kernel
# directly, which costs less host time per call than custom_op's wrapper.
_LIB = torch.library.Library("fp8jit", "DEF")
_LIB.define("scaled_mm(Tensor a, Tensor a_scale, Tensor w_packed, Tensor w_scale, "
            "Tensor? bias=None, ScalarType? out_dtype=None) -> Tensor")
_LIB.define("scaled_mm_out(Tensor a, Tensor a_scale, Tensor w_packed, Tensor w_scale, "
            "Tensor? bias, Tensor(a!) out) -> ()")
for _key in ("CPU", "CUDA"):
    _LIB.impl("scaled_mm", _scaled_mm, _key)
    _LIB.impl("scaled_mm_out", _scaled_mm_out, _key)
torch.library.register_fake("fp8jit::scaled_mm", _scaled_mm_fake, lib=_LIB)
torch.library.register_fake("fp8jit::scaled_mm_out", _scaled_mm_out_fake, lib=_LIB)
_scaled_mm_op = torch.ops.fp8jit.scaled_mm.default
_scaled_mm_out_op = torch.ops.fp8jit.scaled_mm_out.default

_is_compiling = torch.compiler.is_compiling
_dispatch_modes = torch._C._len_torch_dispatch_stack  # user modes and fake / proxy / functional ones
_function_mode = torch._C._is_torch_function_mode_enabled


def _direct(a):
    """True when calling the op's kernel directly does what the dispatcher would: `a` a plain
    tensor (not a fake, functional or traced one), nothing being compiled, no torch dispatch or
    function mode active (a profiler, a FlopCounterMode or a fake mode must see the op)."""
    return (not _is_compiling() and type(a) is torch.Tensor and not _dispatch_modes()
            and not _function_mode())


def scaled_mm(a, a_scale, weight, bias=None, out_dtype=torch.bfloat16, out=None):
    """out = cast<out_dtype>(a_scale * w_scale * (a @ W^T) + bias), one fp8jit kernel.

    a: [M, K] fp8 (the device's encoding), row-major, 16-byte aligned.
    a_scale: float32 per-token scales, [M] or [M, 1], or one element (per-tensor).
    weight: a PackedWeight from pack_weight (K must be the weight's).
    bias: [N] of out_dtype, or None.  out_dtype: torch.bfloat16 or torch.float16.
    out: an [M, N] tensor of out_dtype to write (then its dtype decides), or None for a new one.
    Runs on torch's current stream; traceable by torch.compile(fullgraph=True).
    """
    if not isinstance(weight, PackedWeight):
        raise TypeError(f"'weight' must be an fp8jit.torch.PackedWeight (from pack_weight), got "
                        f"{type(weight).__name__}")
    _need_tensor(a, "a")
    if a.dim() == 2 and a.shape[1] != weight.k:
        raise ValueError(f"tensor 'a' has shape {list(a.shape)}: its K must be the weight's, "
                         f"{weight.k}")
    if out is None:
        return _call(a, a_scale, weight.packed, weight.scale, bias, out_dtype)
    if _direct(a):
        _scaled_mm_out(a, a_scale, weight.packed, weight.scale, bias, out)
    else:
        _scaled_mm_out_op(a, a_scale, weight.packed, weight.scale, bias, out)
    return out


def _call(a, a_scale, w_packed, w_scale, bias, out_dtype):
    """torch.ops.fp8jit.scaled_mm(...), for scaled_mm and the vLLM kernel.

    NOTE: in eager mode the op's kernel is called directly: a round trip through the dispatcher
    into a Python kernel costs host time on every call (bench/llama_mlp.py measures both);
    anything traced, compiled or watched by a mode goes through the op."""
    if _direct(a):
        return _scaled_mm(a, a_scale, w_packed, w_scale, bias, out_dtype)
    return _scaled_mm_op(a, a_scale, w_packed, w_scale, bias, out_dtype)
