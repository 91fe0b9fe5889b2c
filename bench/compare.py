#!/usr/bin/env python3
"""fp8jit next to torch._scaled_mm and a Triton FP8 GEMM, in one process, on one GPU.

    python3 bench/compare.py [--lib build/libfp8jit.so] [--m 1,16,64,256,1024,4096,8192]
                             [--shapes bench/shapes.csv] [--reps 20] [--timing graph|events]
                             [--no-bias] [--check-rows 16] [--csv FILE]

The three compute out[m, n] = bf16(sa[m] * sw[n] * sum_k A[m, k] W[n, k] + bias[n]) with fp8 e4m3
A [M, K] and W [N, K], per-token scales sa and per-channel scales sw (fp32), on the same data:
  fp8jit  through its C ABI (ctypes; include/fp8jit/fp8jit.h): fp8jit_pack_weight once per
          weight copy, fp8jit_gemm per call, on torch's current stream;
  torch   torch._scaled_mm(A, W.t(), scale_a=sa [M,1], scale_b=sw [1,N], bias, out_dtype=bf16)
          (row-wise scales: cuBLASLt outer-vector scaling on CUDA 13); without bias when this
          torch refuses bias with row-wise scales (said once, and the check follows suit);
  triton  the kernel below: a plain tiled tl.dot loop, the scales and bias in the epilogue, a
          small autotune set.
Protocol (that of `fp8jit bench`): weights rotate among copies that together exceed 4x the L2 cache,
warm-up first, then --reps timed rounds of one call per copy; each round is a CUDA graph replay
(--timing graph, the default: Python's per-call launch cost is not what is compared) or the calls
themselves between two events (--timing events); the per-call median is reported. Each output is
poisoned (NaN) before a checked call and --check-rows sampled rows (first and last included) are
compared with a float64 reference: ||out - ref|| / ||ref|| <= 1e-2.

Columns vs_torch and vs_triton are the other's time over fp8jit's time (> 1: fp8jit is faster),
the convention of `fp8jit bench`. Needs PyTorch with CUDA, Triton and libfp8jit.so (--lib, else
$FP8JIT_LIB, else build/libfp8jit.so). Exit status: 0 when every output passed its check, 1 when
one did not (or an implementation failed), 2 when something needed is missing.
"""
import argparse
import ctypes
import math
import os
import statistics
import sys

try:
    import torch
    import triton
    import triton.language as tl
    _IMPORT_ERROR = None
except ImportError as e:  # reported by main(), after --help had its chance
    torch = triton = tl = None
    _IMPORT_ERROR = e

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-2


def die(message):
    """Something needed is missing or an argument is bad: exit status 2."""
    print(f"compare.py: {message}", file=sys.stderr)
    sys.exit(2)

# ---- Triton: FP8 GEMM with per-token x per-channel scales (and bias) in the epilogue ----------
if triton is not None:

    @triton.autotune(
        configs=[
            triton.Config({"BM": 16, "BN": 64, "BK": 256, "GROUP_M": 8}, num_warps=4, num_stages=4),
            triton.Config({"BM": 16, "BN": 128, "BK": 128, "GROUP_M": 8}, num_warps=4, num_stages=5),
            triton.Config({"BM": 64, "BN": 64, "BK": 128, "GROUP_M": 8}, num_warps=4, num_stages=4),
            triton.Config({"BM": 64, "BN": 128, "BK": 128, "GROUP_M": 8}, num_warps=4, num_stages=4),
            triton.Config({"BM": 128, "BN": 128, "BK": 128, "GROUP_M": 8}, num_warps=8, num_stages=3),
            triton.Config({"BM": 128, "BN": 256, "BK": 128, "GROUP_M": 8}, num_warps=8, num_stages=3),
        ],
        key=["M", "N", "K"],
    )
    @triton.jit
    def fp8_ptpc_gemm(A, W, SA, SW, BIAS, C, M, N, K, HAS_BIAS: tl.constexpr, BM: tl.constexpr,
                      BN: tl.constexpr, BK: tl.constexpr, GROUP_M: tl.constexpr):
        # Tiles in groups of GROUP_M rows of tiles, so that neighbouring programs share W in L2.
        pid = tl.program_id(0)
        tiles_m = tl.cdiv(M, BM)
        tiles_n = tl.cdiv(N, BN)
        in_group = GROUP_M * tiles_n
        first_m = (pid // in_group) * GROUP_M
        group_m = min(tiles_m - first_m, GROUP_M)
        pid_m = first_m + (pid % in_group) % group_m
        pid_n = (pid % in_group) // group_m
        rm = pid_m * BM + tl.arange(0, BM)
        rn = pid_n * BN + tl.arange(0, BN)
        rk = tl.arange(0, BK)
        a_ptrs = A + rm[:, None] * K + rk[None, :]   # A [M, K] row-major
        w_ptrs = W + rn[None, :] * K + rk[:, None]   # W [N, K] row-major, read as [BK, BN]
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        for k0 in range(0, K, BK):
            k_in = rk < K - k0
            a = tl.load(a_ptrs, mask=(rm[:, None] < M) & k_in[None, :], other=0.0)
            w = tl.load(w_ptrs, mask=(rn[None, :] < N) & k_in[:, None], other=0.0)
            acc = tl.dot(a, w, acc)
            a_ptrs += BK
            w_ptrs += BK
        sa = tl.load(SA + rm, mask=rm < M, other=0.0)
        sw = tl.load(SW + rn, mask=rn < N, other=0.0)
        acc = acc * sa[:, None] * sw[None, :]
        if HAS_BIAS:
            acc += tl.load(BIAS + rn, mask=rn < N, other=0.0).to(tl.float32)[None, :]
        tl.store(C + rm[:, None] * N + rn[None, :], acc.to(tl.bfloat16),
                 mask=(rm[:, None] < M) & (rn[None, :] < N))


def triton_gemm(a, w, sa, sw, bias, out):
    m, k = a.shape
    n = w.shape[0]
    grid = lambda meta: (triton.cdiv(m, meta["BM"]) * triton.cdiv(n, meta["BN"]),)
    fp8_ptpc_gemm[grid](a, w, sa, sw, bias if bias is not None else sw, out, m, n, k,
                        HAS_BIAS=bias is not None)


# ---- fp8jit through the C ABI -----------------------------------------------------------------
STATUS_NAMES = ["OK", "INVALID_ARGUMENT", "DRIVER", "COMPILE", "CACHE", "OTHER"]
FP8JIT_BF16 = 0


class Fp8jit:
    """The few C ABI calls used here, with errors raised as RuntimeError."""

    def __init__(self, path, device):
        self.lib = lib = ctypes.CDLL(path)
        vp, i64, st = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
        for name, restype, argtypes in [
            ("fp8jit_version", ctypes.c_char_p, []),
            ("fp8jit_last_error", ctypes.c_char_p, []),
            ("fp8jit_context_create", st, [ctypes.c_int, ctypes.POINTER(vp)]),
            ("fp8jit_context_destroy", None, [vp]),
            ("fp8jit_context_target", st, [vp, ctypes.c_char_p, ctypes.c_size_t]),
            ("fp8jit_pack_weight", st, [vp, vp, vp, i64, i64, vp, ctypes.POINTER(vp)]),
            ("fp8jit_weight_destroy", None, [vp]),
            ("fp8jit_gemm", st, [vp, vp, vp, vp, vp, vp, i64, ctypes.c_int, vp]),
            ("fp8jit_synchronize", st, [vp, vp]),
        ]:
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        self.version = lib.fp8jit_version().decode()
        self.ctx = vp()
        self._check(lib.fp8jit_context_create(device, ctypes.byref(self.ctx)), "fp8jit_context_create")
        buf = ctypes.create_string_buffer(64)
        self._check(lib.fp8jit_context_target(self.ctx, buf, len(buf)), "fp8jit_context_target")
        self.target = buf.value.decode()
        self._gemm = lib.fp8jit_gemm

    def _check(self, status, what):
        if status != 0:
            name = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
            raise RuntimeError(f"{what}: FP8JIT_ERROR_{name}: {self.lib.fp8jit_last_error().decode()}")

    def pack(self, w, sw):
        handle = ctypes.c_void_p()
        self._check(self.lib.fp8jit_pack_weight(self.ctx, w.data_ptr(), sw.data_ptr(), w.shape[0],
                                                w.shape[1], torch.cuda.current_stream().cuda_stream,
                                                ctypes.byref(handle)), "fp8jit_pack_weight")
        return handle

    def gemm(self, a, sa, weight, bias, out):
        # The stream is read per call: inside a graph capture it is the capturing stream.
        status = self._gemm(self.ctx, a.data_ptr(), sa.data_ptr(), weight,
                            bias.data_ptr() if bias is not None else None, out.data_ptr(),
                            a.shape[0], FP8JIT_BF16, torch.cuda.current_stream().cuda_stream)
        if status != 0:
            self._check(status, "fp8jit_gemm")

    def destroy_weight(self, handle):
        self.lib.fp8jit_weight_destroy(handle)

    def close(self):
        self.lib.fp8jit_context_destroy(self.ctx)


# ---- protocol ----------------------------------------------------------------------------------
def read_shapes(path):
    """(name, N, K) from bench/shapes.csv ('model,layer,N,K' with a header) or 'N,K' lines."""
    shapes = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(",")]
            try:
                n, k = int(fields[-2]), int(fields[-1])
            except (ValueError, IndexError):
                continue  # the header
            name = ".".join(fields[:-2]) or f"n{n}_k{k}"
            shapes.append((name, n, k))
    if not shapes:
        die(f"no 'N,K' rows in {path}")
    return shapes


def median_us(call, copies, reps, timing):
    """Per-call median (us) of `reps` rounds of call(0), ..., call(copies - 1)."""
    # Warm-up on a side stream (lazy initialization, autotuning, fp8jit's kernel loads), as
    # torch.cuda.graph wants before a capture.
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            for c in range(copies):
                call(c)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    if timing == "graph":
        rounds = max(1, math.ceil(20 / copies))  # at least 20 calls per replay
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(rounds):
                for c in range(copies):
                    call(c)
        run, calls = graph.replay, rounds * copies
        run()
    else:
        def run():
            for c in range(copies):
                call(c)
        calls = copies
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / calls)
    return statistics.median(times)


def sample_rows(m, count, gen):
    rows = {0, m - 1}
    while len(rows) < min(m, count):
        rows.add(int(torch.randint(0, m, (1,), generator=gen)))
    return sorted(rows)


def rel_error(out, ref, rows):
    got = out[rows].double()
    if torch.isnan(got).any():
        return math.inf
    return float((got - ref).norm() / ref.norm())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--lib", default=os.environ.get("FP8JIT_LIB", "build/libfp8jit.so"),
                   help="libfp8jit.so (default: $FP8JIT_LIB, else build/libfp8jit.so)")
    p.add_argument("--shapes", default=os.path.join(HERE, "shapes.csv"))
    p.add_argument("--m", default="1,16,64,256,1024,4096,8192", help="token counts")
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--timing", choices=["graph", "events"], default="graph")
    p.add_argument("--no-bias", dest="bias", action="store_false")
    p.add_argument("--check-rows", type=int, default=16)
    p.add_argument("--csv", help="also write the rows to this CSV file")
    p.add_argument("--device", type=int, default=0)
    args = p.parse_args()

    if _IMPORT_ERROR is not None:
        die(f"needs PyTorch (CUDA build) and Triton: {_IMPORT_ERROR}. Install them "
            f"(pip install torch triton) or run `fp8jit bench` instead.")
    if not torch.cuda.is_available():
        die(f"torch {torch.__version__} sees no CUDA GPU (torch.version.cuda={torch.version.cuda})")
    if not hasattr(torch, "_scaled_mm"):
        die(f"torch {torch.__version__} has no torch._scaled_mm (needs >= 2.4)")
    try:
        ms = [int(x) for x in args.m.split(",")]
        if any(m < 1 for m in ms):
            raise ValueError
    except ValueError:
        die(f"--m must be positive integers separated by commas (got '{args.m}')")
    if not os.path.exists(args.lib):
        die(f"no library at {args.lib} (pass --lib or set FP8JIT_LIB)")
    try:
        shapes = read_shapes(args.shapes)
    except OSError as e:
        die(f"cannot read the shapes: {e}")

    torch.cuda.set_device(args.device)
    dev = torch.device("cuda", args.device)
    props = torch.cuda.get_device_properties(dev)
    f8 = torch.float8_e4m3fn
    try:
        fp8jit = Fp8jit(os.path.abspath(args.lib), args.device)
    except (OSError, RuntimeError) as e:
        die(f"cannot open fp8jit from {args.lib}: {e}")
    print(f"# compare.py on {props.name} ({fp8jit.target}, {props.multi_processor_count} SMs, "
          f"L2 {props.L2_cache_size >> 20} MiB): fp8jit {fp8jit.version} ({args.lib}), "
          f"torch {torch.__version__} (CUDA {torch.version.cuda}), triton {triton.__version__}; "
          f"timing: {args.timing}, median of {args.reps}", flush=True)

    header = ["shape", "M", "N", "K", "copies", "fp8jit_us", "torch_us", "triton_us", "vs_torch",
              "vs_triton", "fp8jit_err", "torch_err", "triton_err", "torch_bias"]
    print(f"{'shape':<20} {'M':>6} {'N':>6} {'K':>6} {'copies':>6} {'fp8jit_us':>10} "
          f"{'torch_us':>10} {'triton_us':>10} {'vs_torch':>8} {'vs_triton':>9} "
          f"{'fp8jit_err':>10} {'torch_err':>9} {'triton_err':>10}", flush=True)
    csv = open(args.csv, "w") if args.csv else None
    if csv:
        csv.write(",".join(header) + "\n")

    gen = torch.Generator(device="cpu").manual_seed(0)
    torch_bias = args.bias  # until torch refuses it
    failed, rows_out = 0, []
    for name, n, k in shapes:
        copies = max(1, min(16, math.ceil(4 * props.L2_cache_size / (n * k))))
        max_m = max(ms)
        # Random data (never zeros), made once per weight: copies of one W, so every copy gives
        # the same result and copy 0 is the one checked.
        w = (torch.randn(n, k, generator=gen) * 2).to(f8).to(dev)
        ws = [w] + [w.clone() for _ in range(copies - 1)]
        sw = (torch.rand(n, generator=gen) * 0.05 + 0.01).to(dev)
        bias = torch.randn(n, generator=gen).to(torch.bfloat16).to(dev) if args.bias else None
        a_all = (torch.randn(max_m, k, generator=gen) * 2).to(f8).to(dev)
        sa_all = (torch.rand(max_m, generator=gen) * 0.05 + 0.01).to(dev)
        packed = [fp8jit.pack(x, sw) for x in ws]
        torch.cuda.synchronize()
        w64 = w.float().double()
        try:
            for m in ms:
                a, sa = a_all[:m], sa_all[:m]
                sa_col, sw_row = sa.view(m, 1), sw.view(1, n)
                out_f = torch.empty(m, n, dtype=torch.bfloat16, device=dev)
                out_t = torch.empty(m, n, dtype=torch.bfloat16, device=dev)
                rows = sample_rows(m, args.check_rows, gen)
                base = (a[rows].float().double() @ w64.T) * sa[rows].double()[:, None] \
                    * sw.double()[None, :]
                ref_bias = base + bias.double()[None, :] if bias is not None else base

                def run_fp8jit(c):
                    fp8jit.gemm(a, sa, packed[c], bias, out_f)

                def run_triton(c):
                    triton_gemm(a, ws[c], sa, sw, bias, out_t)

                def run_torch(c):
                    return torch._scaled_mm(a, ws[c].t(), scale_a=sa_col, scale_b=sw_row,
                                            bias=bias if torch_bias else None,
                                            out_dtype=torch.bfloat16)

                if torch_bias and bias is not None:
                    try:
                        run_torch(0)
                    except RuntimeError as e:
                        torch_bias = False
                        print(f"# torch._scaled_mm refuses bias with row-wise scales here; torch "
                              f"runs without bias from now on ({str(e).splitlines()[0]})",
                              flush=True)

                res = {}
                for impl, run, out, ref in (
                        ("fp8jit", run_fp8jit, out_f, ref_bias),
                        ("torch", None, None, ref_bias if torch_bias else base),
                        ("triton", run_triton, out_t, ref_bias)):
                    try:
                        if impl == "torch":
                            got = run_torch(0)
                            torch.cuda.synchronize()
                            err = rel_error(got, ref, rows)
                            us = median_us(run_torch, copies, args.reps, args.timing)
                        else:
                            out.fill_(float("nan"))  # poisoned: unwritten elements fail
                            run(0)
                            torch.cuda.synchronize()
                            err = rel_error(out, ref, rows)
                            us = median_us(run, copies, args.reps, args.timing)
                    except Exception as e:  # one failing implementation must not hide the others
                        print(f"# {impl} failed on {name} M={m}: {type(e).__name__}: {e}", flush=True)
                        us, err = math.nan, math.inf
                    res[impl] = (us, err)
                bad = [impl for impl, (_, err) in res.items() if not err <= TOLERANCE]
                failed += len(bad)
                (fu, fe), (tu, te), (xu, xe) = res["fp8jit"], res["torch"], res["triton"]
                row = [name, m, n, k, copies, fu, tu, xu, tu / fu, xu / fu, fe, te, xe, int(torch_bias)]
                rows_out.append(row)
                print(f"{name:<20} {m:>6} {n:>6} {k:>6} {copies:>6} {fu:>10.2f} {tu:>10.2f} "
                      f"{xu:>10.2f} {tu / fu:>8.3f} {xu / fu:>9.3f} {fe:>10.2e} {te:>9.2e} "
                      f"{xe:>10.2e}" + (f"  INACCURATE: {', '.join(bad)}" if bad else ""),
                      flush=True)
                if csv:
                    csv.write(",".join(str(x) if not isinstance(x, float) else f"{x:.4g}"
                                       for x in row) + "\n")
                    csv.flush()
                del out_f, out_t
        finally:
            torch.cuda.synchronize()
            for h in packed:
                fp8jit.destroy_weight(h)
        del ws, w, w64, a_all, sa_all
        torch.cuda.empty_cache()

    print("\nper M: geometric mean of torch time / fp8jit time and of triton time / fp8jit time")
    for m in ms:
        sel = [r for r in rows_out if r[1] == m and r[8] == r[8] and r[9] == r[9]]  # no NaN
        if sel:
            gt = math.exp(sum(math.log(r[8]) for r in sel) / len(sel))
            gx = math.exp(sum(math.log(r[9]) for r in sel) / len(sel))
            print(f"  M={m:<6} vs torch {gt:.3f}  vs triton {gx:.3f}  ({len(sel)} shapes)")
    print(f"{len(rows_out)} points, {failed} outputs failed the float64 check (> {TOLERANCE})")
    if csv:
        csv.close()
    fp8jit.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
