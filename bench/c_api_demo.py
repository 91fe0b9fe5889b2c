#!/usr/bin/env python3
"""fp8jit through its C ABI (include/fp8jit/fp8jit.h) with ctypes.

    python3 bench/c_api_demo.py [path/to/libfp8jit.so] [--m 37 --n 4096 --k 2048 --dtype bf16]

The library path comes from the first argument, else $FP8JIT_LIB, else build/libfp8jit.so.
With torch (CUDA build): fp8 tensors made by torch, one fp8jit_gemm on their data_ptr()s on
torch's current stream, checked against a float64 reference computed on the CPU. Without torch:
a context and a round trip through the ABI's own memory functions. Exit status 0 on success.
"""
import argparse
import ctypes
import os
import sys

FP8JIT_OK = 0
STATUS_NAMES = ["OK", "INVALID_ARGUMENT", "DRIVER", "COMPILE", "CACHE", "OTHER"]
DTYPES = {"bf16": 0, "fp16": 1}


class Fp8jitError(RuntimeError):
    pass


def load(path):
    """Loads the shared library and declares the signature of each function used."""
    lib = ctypes.CDLL(path)
    c_status, vp, i64 = ctypes.c_int, ctypes.c_void_p, ctypes.c_int64
    ctx_p = vp  # fp8jit_context*, opaque
    signatures = {
        "fp8jit_version": (ctypes.c_char_p, []),
        "fp8jit_last_error": (ctypes.c_char_p, []),
        "fp8jit_context_create": (c_status, [ctypes.c_int, ctypes.POINTER(vp)]),
        "fp8jit_context_destroy": (None, [ctx_p]),
        "fp8jit_context_target": (c_status, [ctx_p, ctypes.c_char_p, ctypes.c_size_t]),
        "fp8jit_pack_weight": (c_status, [ctx_p, vp, vp, i64, i64, vp, ctypes.POINTER(vp)]),
        "fp8jit_weight_destroy": (None, [vp]),
        "fp8jit_gemm": (c_status, [ctx_p, vp, vp, vp, vp, vp, i64, ctypes.c_int, vp]),
        "fp8jit_synchronize": (c_status, [ctx_p, vp]),
        "fp8jit_malloc": (c_status, [ctx_p, ctypes.c_size_t, ctypes.POINTER(vp)]),
        "fp8jit_free": (c_status, [ctx_p, vp]),
        "fp8jit_memcpy_h2d": (c_status, [ctx_p, vp, vp, ctypes.c_size_t]),
        "fp8jit_memcpy_d2h": (c_status, [ctx_p, vp, vp, ctypes.c_size_t]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def check(lib, status, what):
    if status != FP8JIT_OK:
        name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
        raise Fp8jitError(f"{what}: FP8JIT_ERROR_{name}: {lib.fp8jit_last_error().decode()}")


def round_trip_without_torch(lib, ctx):
    """Device memory through the ABI alone: host bytes -> device -> host."""
    data = bytes(range(256)) * 16
    dev = ctypes.c_void_p()
    check(lib, lib.fp8jit_malloc(ctx, len(data), ctypes.byref(dev)), "fp8jit_malloc")
    try:
        src = ctypes.create_string_buffer(data, len(data))
        dst = ctypes.create_string_buffer(len(data))
        check(lib, lib.fp8jit_memcpy_h2d(ctx, dev, src, len(data)), "fp8jit_memcpy_h2d")
        check(lib, lib.fp8jit_memcpy_d2h(ctx, dst, dev, len(data)), "fp8jit_memcpy_d2h")
    finally:
        check(lib, lib.fp8jit_free(ctx, dev), "fp8jit_free")
    ok = dst.raw == data
    print(f"memory round trip of {len(data)} bytes: {'ok' if ok else 'MISMATCH'}")
    return ok


def gemm_with_torch(lib, ctx, torch, args):
    """One GEMM on torch tensors, checked against float64 on the CPU. Returns True when close."""
    m, n, k = args.m, args.n, args.k
    dev = torch.device("cuda", torch.cuda.current_device())
    out_dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    gen = torch.Generator(device="cpu").manual_seed(0)

    # Random data (never zeros), made on the CPU so the reference sees exactly the same values.
    a_cpu = (torch.randn(m, k, generator=gen) * 2).to(torch.float8_e4m3fn)
    w_cpu = (torch.randn(n, k, generator=gen) * 2).to(torch.float8_e4m3fn)
    sa_cpu = torch.rand(m, generator=gen) * 0.05 + 0.01
    sw_cpu = torch.rand(n, generator=gen) * 0.05 + 0.01
    bias_cpu = torch.randn(n, generator=gen).to(out_dtype) if args.bias else None

    a, w = a_cpu.to(dev), w_cpu.to(dev)
    sa, sw = sa_cpu.to(dev), sw_cpu.to(dev)
    bias = bias_cpu.to(dev) if bias_cpu is not None else None
    out = torch.full((m, n), float("nan"), dtype=out_dtype, device=dev)  # poisoned
    for t in (a, w, out):
        assert t.is_contiguous() and t.data_ptr() % 16 == 0

    stream = ctypes.c_void_p(torch.cuda.current_stream().cuda_stream)
    weight = ctypes.c_void_p()
    check(lib, lib.fp8jit_pack_weight(ctx, w.data_ptr(), sw.data_ptr(), n, k, stream,
                                      ctypes.byref(weight)), "fp8jit_pack_weight")
    try:
        check(lib, lib.fp8jit_gemm(ctx, a.data_ptr(), sa.data_ptr(), weight,
                                   bias.data_ptr() if bias is not None else None, out.data_ptr(),
                                   m, DTYPES[args.dtype], stream), "fp8jit_gemm")
        check(lib, lib.fp8jit_synchronize(ctx, stream), "fp8jit_synchronize")
    finally:
        # `sw` is referenced by the packed weight: keep it alive until here (it is, as a local).
        lib.fp8jit_weight_destroy(weight)

    ref = (a_cpu.float().double() @ w_cpu.float().double().T) * sa_cpu.double()[:, None] \
        * sw_cpu.double()[None, :]
    if bias_cpu is not None:
        ref += bias_cpu.double()[None, :]
    got = out.cpu().double()
    nans = int(torch.isnan(got).sum())
    rel = float((got - ref).norm() / ref.norm())
    max_abs = float((got - ref).abs().nan_to_num(float("inf")).max())
    # bf16 keeps 8 bits of mantissa (fp16: 11): the rounding of `out` alone is ~2^-9 relative.
    tol = 1e-2 if args.dtype == "bf16" else 2e-3
    ok = nans == 0 and rel < tol
    print(f"gemm m={m} n={n} k={k} out={args.dtype} bias={args.bias}: rel error {rel:.3e} "
          f"(max abs {max_abs:.3e}, NaN {nans}) -> {'ok' if ok else 'FAILED'} (tolerance {tol})")
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("lib", nargs="?", default=os.environ.get("FP8JIT_LIB", "build/libfp8jit.so"))
    p.add_argument("--device", type=int, default=-1, help="GPU ordinal (default: FP8JIT_DEVICE or 0)")
    p.add_argument("--m", type=int, default=37)
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--k", type=int, default=2048)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    p.add_argument("--no-bias", dest="bias", action="store_false")
    args = p.parse_args()

    if not os.path.exists(args.lib):
        sys.exit(f"c_api_demo: no library at {args.lib} (pass its path or set FP8JIT_LIB)")
    lib = load(os.path.abspath(args.lib))
    print(f"fp8jit {lib.fp8jit_version().decode()} from {args.lib}")

    try:
        import torch
        have_torch = torch.cuda.is_available()
        if have_torch and args.device >= 0:
            torch.cuda.set_device(args.device)
        device = torch.cuda.current_device() if have_torch else args.device
    except ImportError:
        torch, have_torch, device = None, False, args.device
    if not have_torch:
        print("torch with CUDA not available: running the ABI's memory functions only")

    ctx = ctypes.c_void_p()
    try:
        check(lib, lib.fp8jit_context_create(device, ctypes.byref(ctx)), "fp8jit_context_create")
        target = ctypes.create_string_buffer(64)
        check(lib, lib.fp8jit_context_target(ctx, target, len(target)), "fp8jit_context_target")
        print(f"context on device {device}: target {target.value.decode()}")
        ok = gemm_with_torch(lib, ctx, torch, args) if have_torch else round_trip_without_torch(lib, ctx)
    except Fp8jitError as e:
        print(f"c_api_demo: {e}", file=sys.stderr)
        ok = False
    finally:
        lib.fp8jit_context_destroy(ctx)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
