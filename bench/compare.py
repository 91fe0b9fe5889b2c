#!/usr/bin/env python3
"""fp8jit next to torch._scaled_mm and a Triton FP8 GEMM, in one process, on one GPU.

    python3 bench/compare.py [--impls fp8jit,torch,triton] [--lib build/libfp8jit.so]
                             [--shapes bench/shapes.csv[,bench/heldout.csv,...]]
                             [--m 1,16,64,256,1024,4096,8192] [--reps 20] [--timing graph|events]
                             [--min-calls 20] [--region-ms 2] [--autotune-ms 5]
                             [--no-bias] [--check-rows 16] [--csv FILE]

The three compute out[m, n] = bf16(sa[m] * sw[n] * sum_k A[m, k] W[n, k] + bias[n]) with fp8 e4m3
A [M, K] and W [N, K], per-token scales sa and per-channel scales sw (fp32), on the same data:
  fp8jit  through its C ABI (ctypes; include/fp8jit/fp8jit.h): fp8jit_pack_weight once per
          weight copy, fp8jit_gemm per call, on torch's current stream;
  torch   torch._scaled_mm(A, W.t(), scale_a=sa [M,1], scale_b=sw [1,N], bias, out_dtype=bf16)
          (row-wise scales: cuBLASLt outer-vector scaling on CUDA 13); without bias when this
          torch refuses bias with row-wise scales (said once, and the check follows suit);
  triton  the kernel below: a plain tiled tl.dot loop, the scales and bias in the epilogue, a
          small autotune set of 6 configs.
--impls picks which run (default all three); without fp8jit no library is needed, so
`--impls torch,triton` measures the anchors alone. --shapes takes one or more shape files
('model,layer,N,K' with a header, or 'N,K' lines; '#' starts a comment), separated by commas.

Protocol (that of `fp8jit bench`): weights rotate among copies that together exceed 4x the L2 cache
(at most 16 copies); a first call (autotuning, kernel loads), then the output is poisoned (NaN),
one call is checked on --check-rows sampled rows (first and last included) against a float64
reference, ||out - ref|| / ||ref|| <= 1e-2; then two warm-up rounds of one call per copy and
--reps timed regions, each a CUDA graph replay (--timing graph, the default: Python's per-call
launch cost is not what is compared) or the calls themselves between two events (--timing
events); the per-call median is reported. A region is whole rounds over the copies, at least
--min-calls calls, fewer when the calls are long: a region of --region-ms of GPU time (estimated
from one timed round) already makes the graph's launch gap negligible (< 0.2% at 2 ms): at the
defaults, calls of more than 100 us are not repeated 20 times (--region-ms 0: always --min-calls).

Triton's autotuning budget: for each (M, N, K) the autotuner times each of the 6 configs with the
do_bench given to triton.autotune here: one untimed call (compile, load), one timed call as an
estimate t, then n = clamp(--autotune-ms / t, 3, 50) timed calls, each after a flush of the L2
cache (a write of twice its size), and it keeps the config of the lowest median. That is at most
about 5 ms of kernel time per config (or 3 calls of a long kernel) instead of Triton's default
(25 ms of warm-up and 100 ms of timing per config, about 5 minutes over 21 shapes x 21 M). A
Triton whose autotune takes no do_bench= gets warmup=1, rep=--autotune-ms instead; one that takes
neither keeps its default; the header line says which. --autotune-ms 0 keeps Triton's default.

Progress: a line per weight (index, points done, seconds elapsed) and a line per point, flushed.
Columns vs_torch and vs_triton are the other's time over fp8jit's time (> 1: fp8jit is faster),
the convention of `fp8jit bench`; in the CSV, the columns of an implementation that was not run are
empty, those of one that failed are nan (time) and inf (error). Needs PyTorch with CUDA, Triton
(for triton) and libfp8jit.so (for fp8jit: --lib, else $FP8JIT_LIB, else build/libfp8jit.so).
Exit status: 0 when every output passed its check, 1 when one did not (or an implementation
failed), 2 when something needed is missing or an argument is bad.
"""
import argparse
import ctypes
import math
import os
import statistics
import sys
import time
import warnings

try:
    import torch
    _TORCH_ERROR = None
except ImportError as e:  # reported by main(), after --help had its chance
    torch, _TORCH_ERROR = None, e
try:
    import triton
    import triton.language as tl
    _TRITON_ERROR = None
except ImportError as e:  # needed only for --impls triton
    triton = tl = None
    _TRITON_ERROR = e

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-2
IMPLS = ("fp8jit", "torch", "triton")
# Timed calls per config when autotuning the Triton kernel (see the docstring).
AUTOTUNE_MIN_CALLS, AUTOTUNE_MAX_CALLS = 3, 50


def die(message):
    """Something needed is missing or an argument is bad: exit status 2."""
    print(f"compare.py: {message}", file=sys.stderr)
    sys.exit(2)

# ---- Triton: FP8 GEMM with per-token x per-channel scales (and bias) in the epilogue ----------
if triton is not None:

    TRITON_CONFIGS = [
        triton.Config({"BM": 16, "BN": 64, "BK": 256, "GROUP_M": 8}, num_warps=4, num_stages=4),
        triton.Config({"BM": 16, "BN": 128, "BK": 128, "GROUP_M": 8}, num_warps=4, num_stages=5),
        triton.Config({"BM": 64, "BN": 64, "BK": 128, "GROUP_M": 8}, num_warps=4, num_stages=4),
        triton.Config({"BM": 64, "BN": 128, "BK": 128, "GROUP_M": 8}, num_warps=4, num_stages=4),
        triton.Config({"BM": 128, "BN": 128, "BK": 128, "GROUP_M": 8}, num_warps=8, num_stages=3),
        triton.Config({"BM": 128, "BN": 256, "BK": 128, "GROUP_M": 8}, num_warps=8, num_stages=3),
    ]

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




def quantile(sorted_values, q):
    """The q-quantile with linear interpolation (torch.quantile's default)."""
    at = q * (len(sorted_values) - 1)
    lo = math.floor(at)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (at - lo)


def bounded_do_bench(budget_ms, flush_bytes):
    """A do_bench for triton.autotune that spends about budget_ms of kernel time per config.

    Called as do_bench(kernel_call, quantiles=(0.5, 0.2, 0.8)); returns those quantiles of the
    per-call times in ms (the median alone without quantiles), as triton.testing.do_bench does.
    """
    flush = []  # the L2 flush buffer, made on first use (the device is set by then)

    def do_bench(kernel_call, quantiles=None, **_):
        if not flush:
            flush.append(torch.empty(flush_bytes, dtype=torch.int8, device="cuda"))

        def timed(calls):
            events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                      for _ in range(calls)]
            for start, end in events:
                flush[0].zero_()  # weights and A out of L2, as in the timed protocol
                start.record()
                kernel_call()
                end.record()
            torch.cuda.synchronize()
            return [start.elapsed_time(end) for start, end in events]

        kernel_call()  # compile and load: not timed
        torch.cuda.synchronize()
        estimate_ms = timed(1)[0]
        calls = max(AUTOTUNE_MIN_CALLS, min(AUTOTUNE_MAX_CALLS, int(budget_ms / max(estimate_ms, 1e-4))))
        times = sorted(timed(calls))
        if quantiles is None:
            return quantile(times, 0.5)
        return [quantile(times, q) for q in quantiles]

    return do_bench


def autotuned_triton_gemm(budget_ms, flush_bytes):
    """fp8_ptpc_gemm under triton.autotune with a bounded timing budget, and how it is bounded."""
    configs = dict(configs=TRITON_CONFIGS, key=["M", "N", "K"])
    default = "Triton's default do_bench (25 ms warm-up + 100 ms per config)"
    if budget_ms <= 0:
        return triton.autotune(**configs)(fp8_ptpc_gemm), default
    try:
        return (triton.autotune(**configs, do_bench=bounded_do_bench(budget_ms, flush_bytes))(fp8_ptpc_gemm),
                f"do_bench of compare.py: {AUTOTUNE_MIN_CALLS}..{AUTOTUNE_MAX_CALLS} L2-flushed calls, "
                f"about {budget_ms:g} ms per config")
    except TypeError:  # a Triton before do_bench= (3.0 and older)
        pass
    try:
        with warnings.catch_warnings():  # warmup= and rep= are deprecated where do_bench= exists
            warnings.simplefilter("ignore", DeprecationWarning)
            rep = max(1, round(budget_ms))
            return (triton.autotune(**configs, warmup=1, rep=rep)(fp8_ptpc_gemm),
                    f"triton.testing.do_bench, warmup=1 ms, rep={rep} ms (this Triton takes no do_bench=)")
    except TypeError:
        return (triton.autotune(**configs)(fp8_ptpc_gemm),
                default + " (this Triton takes neither do_bench= nor warmup=/rep=)")


def config_name(config):
    """'BMxBNxBK gG wW sS' of a triton.Config, for the log and the CSV."""
    kw = config.kwargs
    return (f"{kw['BM']}x{kw['BN']}x{kw['BK']} g{kw['GROUP_M']} w{config.num_warps} "
            f"s{config.num_stages}")


def triton_gemm(kernel, a, w, sa, sw, bias, out):
    m, k = a.shape
    n = w.shape[0]
    grid = lambda meta: (triton.cdiv(m, meta["BM"]) * triton.cdiv(n, meta["BN"]),)
    kernel[grid](a, w, sa, sw, bias if bias is not None else sw, out, m, n, k,
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
def read_shapes(paths):
    """(name, N, K) from shape files: 'model,layer,N,K' with a header (bench/shapes.csv), or 'N,K'
    lines. A weight listed in two files is run once; one name with two shapes is bad input."""
    shapes, seen = [], {}
    for path in paths:
        found = 0
        try:
            with open(path) as f:
                lines = f.readlines()
        except OSError as e:
            die(f"cannot read the shapes: {e}")
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(",")]
            try:
                n, k = int(fields[-2]), int(fields[-1])
            except (ValueError, IndexError):
                continue  # the header
            name = ".".join(fields[:-2]) or f"n{n}_k{k}"
            found += 1
            if name in seen:
                if seen[name] != (n, k):
                    die(f"shape {name} is {seen[name][0]}x{seen[name][1]} in one file and {n}x{k} "
                        f"in {path}")
                continue
            seen[name] = (n, k)
            shapes.append((name, n, k))
        if not found:
            die(f"no 'N,K' rows in {path}")
    return shapes


def median_us(call, copies, reps, timing, min_calls, region_ms):
    """Per-call median (us) of `reps` regions of whole rounds call(0), ..., call(copies - 1)."""
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
    calls_wanted = min_calls
    if region_ms > 0:  # one timed round estimates a call; long calls need fewer per region
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for c in range(copies):
            call(c)
        end.record()
        end.synchronize()
        call_us = start.elapsed_time(end) * 1e3 / copies
        calls_wanted = min(min_calls, max(1, math.ceil(region_ms * 1e3 / max(call_us, 1e-3))))
    rounds = max(1, math.ceil(calls_wanted / copies))
    if timing == "graph":
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(rounds):
                for c in range(copies):
                    call(c)
        run = graph.replay
        run()
    else:
        def run():
            for _ in range(rounds):
                for c in range(copies):
                    call(c)
    calls = rounds * copies
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


def parse_impls(text):
    impls = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in impls if x not in IMPLS]
    if not impls or unknown:
        die(f"--impls takes one or more of {','.join(IMPLS)} separated by commas (got '{text}')")
    return [x for x in IMPLS if x in impls]


def fmt_csv(x):
    if x is None:
        return ""  # not run
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def fmt_cell(x, width, spec):
    return f"{'-':>{width}}" if x is None else f"{x:>{width}{spec}}"


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--impls", default=",".join(IMPLS),
                   help="which implementations run, of fp8jit,torch,triton (default: all)")
    p.add_argument("--lib", default=os.environ.get("FP8JIT_LIB", "build/libfp8jit.so"),
                   help="libfp8jit.so (default: $FP8JIT_LIB, else build/libfp8jit.so)")
    p.add_argument("--shapes", default=os.path.join(HERE, "shapes.csv"),
                   help="shape files, separated by commas (default: bench/shapes.csv)")
    p.add_argument("--m", default="1,16,64,256,1024,4096,8192", help="token counts")
    p.add_argument("--reps", type=int, default=20, help="timed regions per point (median)")
    p.add_argument("--timing", choices=["graph", "events"], default="graph")
    p.add_argument("--min-calls", type=int, default=20, help="calls per timed region (at least)")
    p.add_argument("--region-ms", type=float, default=2.0,
                   help="GPU time that makes a region long enough with fewer calls (0: off)")
    p.add_argument("--autotune-ms", type=float, default=5.0,
                   help="Triton autotuning: kernel time per config (0: Triton's default)")
    p.add_argument("--no-bias", dest="bias", action="store_false")
    p.add_argument("--check-rows", type=int, default=16)
    p.add_argument("--csv", help="also write the rows to this CSV file")
    p.add_argument("--device", type=int, default=0)
    args = p.parse_args()

    impls = parse_impls(args.impls)
    if _TORCH_ERROR is not None:
        die(f"needs PyTorch (CUDA build): {_TORCH_ERROR}. Install it (pip install torch) or run "
            f"`fp8jit bench` instead.")
    if "triton" in impls and _TRITON_ERROR is not None:
        die(f"--impls triton needs Triton: {_TRITON_ERROR}. Install it (pip install triton) or "
            f"leave triton out of --impls.")
    if not torch.cuda.is_available():
        die(f"torch {torch.__version__} sees no CUDA GPU (torch.version.cuda={torch.version.cuda})")
    if "torch" in impls and not hasattr(torch, "_scaled_mm"):
        die(f"torch {torch.__version__} has no torch._scaled_mm (needs >= 2.4)")
    try:
        ms = [int(x) for x in args.m.split(",")]
        if any(m < 1 for m in ms):
            raise ValueError
    except ValueError:
        die(f"--m must be positive integers separated by commas (got '{args.m}')")
    if args.reps < 1 or args.min_calls < 1 or args.check_rows < 1:
        die("--reps, --min-calls and --check-rows must be at least 1")
    if "fp8jit" in impls and not os.path.exists(args.lib):
        die(f"no library at {args.lib} (pass --lib or set FP8JIT_LIB, or leave fp8jit out of --impls)")
    shapes = read_shapes([x for x in args.shapes.split(",") if x])

    torch.cuda.set_device(args.device)
    dev = torch.device("cuda", args.device)
    props = torch.cuda.get_device_properties(dev)
    f8 = torch.float8_e4m3fn
    fp8jit = None
    if "fp8jit" in impls:
        try:
            fp8jit = Fp8jit(os.path.abspath(args.lib), args.device)
        except (OSError, RuntimeError) as e:
            die(f"cannot open fp8jit from {args.lib}: {e}")
    tuned, autotune_how = None, None
    if "triton" in impls:
        tuned, autotune_how = autotuned_triton_gemm(args.autotune_ms, 2 * props.L2_cache_size)
    total_points = len(shapes) * len(ms)
    print(f"# compare.py on {props.name} (sm_{props.major}{props.minor}, {props.multi_processor_count} "
          f"SMs, L2 {props.L2_cache_size >> 20} MiB): "
          + (f"fp8jit {fp8jit.version} ({fp8jit.target}, {args.lib}), " if fp8jit else "")
          + f"torch {torch.__version__} (CUDA {torch.version.cuda})"
          + (f", triton {triton.__version__}" if triton is not None else "")
          + f"; impls: {','.join(impls)}; timing: {args.timing}, median of {args.reps} regions of "
          f">= {args.min_calls} calls or {args.region_ms:g} ms; {len(shapes)} weights x {len(ms)} M "
          f"= {total_points} points", flush=True)
    if autotune_how:
        print(f"# triton autotuning: {autotune_how}", flush=True)

    header = ["shape", "M", "N", "K", "copies", "fp8jit_us", "torch_us", "triton_us", "vs_torch",
              "vs_triton", "fp8jit_err", "torch_err", "triton_err", "torch_bias", "triton_config"]
    print(f"{'shape':<20} {'M':>6} {'N':>6} {'K':>6} {'copies':>6} {'fp8jit_us':>10} "
          f"{'torch_us':>10} {'triton_us':>10} {'vs_torch':>8} {'vs_triton':>9} "
          f"{'fp8jit_err':>10} {'torch_err':>9} {'triton_err':>10} {'t_s':>6}", flush=True)
    csv = open(args.csv, "w") if args.csv else None
    if csv:
        csv.write(",".join(header) + "\n")

    gen = torch.Generator(device="cpu").manual_seed(0)  # sampled rows
    gen_dev = torch.Generator(device=dev).manual_seed(0)  # data, made on the GPU: fast for big W
    torch_bias = args.bias  # until torch refuses it
    failed, rows_out = 0, []
    began = time.monotonic()
    for index, (name, n, k) in enumerate(shapes):
        copies = max(1, min(16, math.ceil(4 * props.L2_cache_size / (n * k))))
        print(f"# [{index + 1}/{len(shapes)}] {name} N={n} K={k}, {copies} copies; "
              f"{len(rows_out)}/{total_points} points done, {time.monotonic() - began:.0f} s",
              flush=True)
        max_m = max(ms)
        # Random data (never zeros), made once per weight: copies of one W, so every copy gives
        # the same result and copy 0 is the one checked.
        w = (torch.randn(n, k, generator=gen_dev, device=dev) * 2).to(f8)
        ws = [w] + [w.clone() for _ in range(copies - 1)]
        sw = torch.rand(n, generator=gen_dev, device=dev) * 0.05 + 0.01
        bias = torch.randn(n, generator=gen_dev, device=dev).to(torch.bfloat16) if args.bias else None
        a_all = (torch.randn(max_m, k, generator=gen_dev, device=dev) * 2).to(f8)
        sa_all = torch.rand(max_m, generator=gen_dev, device=dev) * 0.05 + 0.01
        packed = []
        try:
            if fp8jit:
                for x in ws:
                    packed.append(fp8jit.pack(x, sw))
            torch.cuda.synchronize()
            w64 = w.float().double()
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
                    triton_gemm(tuned, a, ws[c], sa, sw, bias, out_t)

                def run_torch(c):
                    return torch._scaled_mm(a, ws[c].t(), scale_a=sa_col, scale_b=sw_row,
                                            bias=bias if torch_bias else None,
                                            out_dtype=torch.bfloat16)

                if "torch" in impls and torch_bias and bias is not None:
                    try:
                        run_torch(0)
                    except RuntimeError as e:
                        torch_bias = False
                        print(f"# torch._scaled_mm refuses bias with row-wise scales here; torch "
                              f"runs without bias from now on ({str(e).splitlines()[0]})",
                              flush=True)

                res = {impl: (None, None) for impl in IMPLS}  # (us, err); None: not run
                triton_config = None
                for impl, run, out, ref in (
                        ("fp8jit", run_fp8jit, out_f, ref_bias),
                        ("torch", run_torch, None, ref_bias if torch_bias else base),
                        ("triton", run_triton, out_t, ref_bias)):
                    if impl not in impls:
                        continue
                    try:
                        # The first call autotunes (Triton) or loads the kernel, before the output
                        # is poisoned: no other config's output can fill what the checked call
                        # leaves unwritten.
                        got = run(0)
                        if out is not None:
                            out.fill_(float("nan"))  # poisoned: unwritten elements fail
                            run(0)
                            got = out
                        else:
                            got = run(0)  # torch returns a fresh output each call
                        torch.cuda.synchronize()
                        err = rel_error(got, ref, rows)
                        if impl == "triton":
                            best = getattr(tuned, "best_config", None)
                            triton_config = config_name(best) if best is not None else None
                        us = median_us(run, copies, args.reps, args.timing, args.min_calls,
                                       args.region_ms)
                    except Exception as e:  # one failing implementation must not hide the others
                        print(f"# {impl} failed on {name} M={m}: {type(e).__name__}: {e}", flush=True)
                        us, err = math.nan, math.inf
                    res[impl] = (us, err)
                bad = [impl for impl, (_, err) in res.items() if err is not None and not err <= TOLERANCE]
                failed += len(bad)
                (fu, fe), (tu, te), (xu, xe) = res["fp8jit"], res["torch"], res["triton"]
                vs_torch = tu / fu if fu is not None and tu is not None else None
                vs_triton = xu / fu if fu is not None and xu is not None else None
                row = [name, m, n, k, copies, fu, tu, xu, vs_torch, vs_triton, fe, te, xe,
                       int(torch_bias) if tu is not None else None, triton_config]
                rows_out.append(row)
                print(f"{name:<20} {m:>6} {n:>6} {k:>6} {copies:>6} {fmt_cell(fu, 10, '.2f')} "
                      f"{fmt_cell(tu, 10, '.2f')} {fmt_cell(xu, 10, '.2f')} "
                      f"{fmt_cell(vs_torch, 8, '.3f')} {fmt_cell(vs_triton, 9, '.3f')} "
                      f"{fmt_cell(fe, 10, '.2e')} {fmt_cell(te, 9, '.2e')} {fmt_cell(xe, 10, '.2e')} "
                      f"{time.monotonic() - began:>6.0f}"
                      + (f"  INACCURATE: {', '.join(bad)}" if bad else ""), flush=True)
                if csv:
                    csv.write(",".join(fmt_csv(x) for x in row) + "\n")
                    csv.flush()
                del out_f, out_t
        finally:
            torch.cuda.synchronize()
            for h in packed:
                fp8jit.destroy_weight(h)
        del ws, w, w64, a_all, sa_all
        torch.cuda.empty_cache()

    # Per M: geometric means of the ratios that were measured (NaN: a failed implementation).
    pairs = [("vs torch", 8), ("vs triton", 9)] if fp8jit else []
    what = "torch time / fp8jit time and triton time / fp8jit time"
    if not fp8jit and "torch" in impls and "triton" in impls:
        pairs, what = [("triton / torch", None)], "triton time / torch time"
    if pairs:
        print(f"\nper M: geometric mean of {what}")
    for m in ms:
        parts = []
        for label, col in pairs:
            sel = [r for r in rows_out if r[1] == m]
            if col is None:  # triton / torch
                vals = [r[7] / r[6] for r in sel if r[6] is not None and r[7] is not None]
            else:
                vals = [r[col] for r in sel if r[col] is not None]
            vals = [v for v in vals if v == v and 0 < v < math.inf]  # NaN: a failed implementation
            if vals:
                parts.append(f"{label} {geomean(vals):.3f} ({len(vals)} shapes)")
        if parts:
            print(f"  M={m:<6} " + "  ".join(parts))
    print(f"{len(rows_out)} points, {failed} outputs failed the float64 check (> {TOLERANCE}) or "
          f"their implementation failed; {time.monotonic() - began:.0f} s")
    if csv:
        csv.close()
    if fp8jit:
        fp8jit.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
