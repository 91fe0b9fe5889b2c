#!/usr/bin/env python3
"""A real client of the fp8jit op: the Llama-3-8B decoder MLP with FP8 weights, fp8jit against
torch._scaled_mm in one process, under torch.compile and CUDA graphs.

    PYTHONPATH=python python3 bench/llama_mlp.py --lib build/libfp8jit.so [--csv llama_mlp.csv]
        [--batches 1,8,32,128,512,2048] [--reps 30] [--inner 10] [--warmup 20]
    PYTHONPATH=python python3 bench/llama_mlp.py --cpu    # the CPU emulator at a small size:
                                                          # checks the script, measures nothing

The block (plain PyTorch, hidden H = 4096, intermediate I = 14336):
    x [B, H] bf16 -> per-token dynamic fp8 quantization (vLLM's rule: per row absmax / fp8_max,
    clamped, cast to e4m3) -> gate_up GEMM [2I, H] -> SiLU(gate) * up -> quantization ->
    down GEMM [H, I] -> [B, H] bf16
with FP8 PTPC weights (random, per-channel scales: each row's absmax over 448) and bf16 output.
The GEMMs are fp8jit's op (torch.ops.fp8jit.scaled_mm on packed weights, plans made ahead) or
torch._scaled_mm (row-wise scales [B, 1] x [1, N]); everything else is the same code.

Execution: torch.compile(fullgraph=True, dynamic=False) in inductor's default mode (the
quantizations and the SiLU-and-mul fused into Triton kernels around the GEMMs; no autotuning, so
torch._scaled_mm stays cuBLASLt's), then one CUDA graph per batch captured by hand
(torch.cuda.CUDAGraph) around the compiled call, as vLLM does (piecewise inductor graphs,
replayed by its own CUDA graphs). NOTE: not mode="reduce-overhead": its CUDA-graph trees
re-record on new shapes, hand back outputs that the next replay overwrites and may silently fall
back to eager ("skipping cudagraphs due to ..."), so what was timed would be unclear; a graph
captured here is either captured or an error.

Timing: per batch and implementation, --warmup replays, then --reps regions of --inner replays
each between two CUDA events; the median region over --inner is the block's time. Weights
(235 MB at FP8) exceed the L2 cache, so every replay streams them from HBM.

Check: per batch, the outputs of both on the same random input against a float64 reference of
the block with the same FP8 weights and unquantized activations (so the error is that of the two
activation quantizations plus bf16 rounding: ~3% of a row's norm; a bad GEMM is ~100%). Max over
rows of ||out - ref|| / ||ref|| must stay below --tol (0.08; torch._scaled_mm's is 0.047-0.049
at batch 1 and 64 on the CPU), and fp8jit's may exceed torch's by at most --tol-vs-torch (10%).
Their difference (err_between) is printed, not checked: their bf16 intermediates differ in the
last bit, which moves a few elements of the second quantization to the next fp8 value, and its
maximum over the rows grows with the batch (0.022 at batch 1, 0.033 at 2048 on an H200, while
both errors against float64 stay at 0.050); a wrong GEMM is ~100% off.

Host overhead: the op in eager mode (torch.ops.fp8jit.scaled_mm through the dispatcher, and
fp8jit.torch.scaled_mm, which calls the op's kernel directly when nothing traces or watches it)
against the bare C call (fp8jit_gemm_packed and fp8jit_plan_gemm through ctypes), and two parts
of the op's time (part_run: its kernel's call into fp8jit without the dispatcher; part_empty: a
new output tensor; part_dispatch: the dispatcher's round trip into a Python kernel that does
nothing), at M = 1 on a [--overhead-n, --overhead-k] weight: each variant
called --overhead-calls times between two perf_counter reads (fewer calls than the launch
queue holds, so the host never waits for the GPU), median of --overhead-reps; and the GPU time
of one call under a CUDA graph, the op against the C call.

Output: a table per batch (us of each, tokens/s, ratio = torch_us / fp8jit_us: > 1 means fp8jit
is faster, the errors) and the overhead lines; --csv FILE gets the table, the JSON beside it
(FILE with .json) everything. Exit status: 0 when every check passed, 1 when one failed, 2 on a
missing requirement or a bad argument.
"""
import argparse
import ctypes
import functools
import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LLAMA3_8B = {"hidden": 4096, "intermediate": 14336}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", default=None,
                   help="comma-separated token counts (default 1,8,32,128,512,2048; "
                        "with --cpu 1,8,33)")
    p.add_argument("--csv", default=None, help="write the table here (and the JSON beside it)")
    p.add_argument("--json", default=None, help="write everything here (default: --csv's .json)")
    p.add_argument("--reps", type=int, default=None,
                   help="timed regions per point, the median taken (default 30; --cpu: 3)")
    p.add_argument("--inner", type=int, default=None,
                   help="graph replays per timed region (default 10; --cpu: 2)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed replays before timing (default 20; --cpu: 1)")
    p.add_argument("--hidden", type=int, default=None, help="H (default 4096; --cpu: 256)")
    p.add_argument("--intermediate", type=int, default=None, help="I (default 14336; --cpu: 512)")
    p.add_argument("--tol", type=float, default=0.08,
                   help="max row relative error of each against float64 (default 0.08)")
    p.add_argument("--tol-vs-torch", type=float, default=0.10,
                   help="how much fp8jit's error may exceed torch._scaled_mm's, relative "
                        "(default 0.10)")
    p.add_argument("--overhead-n", type=int, default=256)
    p.add_argument("--overhead-k", type=int, default=256)
    p.add_argument("--overhead-calls", type=int, default=500)
    p.add_argument("--overhead-reps", type=int, default=15)
    p.add_argument("--lib", default=None,
                   help="libfp8jit.so to use (default: $FP8JIT_LIBRARY, else $FP8JIT_LIB, else the "
                        "installed package's, else build/libfp8jit.so)")
    p.add_argument("--cpu", action="store_true",
                   help="run on fp8jit's CPU emulator (FP8JIT_TARGET=emu-sm89 unless set) at a "
                        "small size, without CUDA graphs: checks the script and its results")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (eager)")
    args = p.parse_args(argv)
    try:
        batches = args.batches or ("1,8,33" if args.cpu else "1,8,32,128,512,2048")
        args.batches = [int(b) for b in batches.split(",")]
    except ValueError:
        p.error(f"--batches {args.batches!r} is not a comma-separated list of integers")
    if any(b < 1 for b in args.batches):
        p.error(f"--batches {args.batches}: every batch must be at least 1")
    for name, gpu, cpu in (("reps", 30, 3), ("inner", 10, 2), ("warmup", 20, 1)):
        if getattr(args, name) is None:
            setattr(args, name, cpu if args.cpu else gpu)
    args.hidden = args.hidden or (256 if args.cpu else LLAMA3_8B["hidden"])
    args.intermediate = args.intermediate or (512 if args.cpu else LLAMA3_8B["intermediate"])
    for name in ("hidden", "intermediate", "overhead_n", "overhead_k"):
        v = getattr(args, name)
        if v < 16 or v % 16:
            p.error(f"--{name.replace('_', '-')} {v}: must be a positive multiple of 16")
    for name in ("reps", "inner", "overhead_calls", "overhead_reps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.json is None and args.csv:
        args.json = os.path.splitext(args.csv)[0] + ".json"
    return args


def import_fp8jit(args):
    """fp8jit from PYTHONPATH (or the repository's python/), on the library --lib names."""
    lib = args.lib or os.environ.get("FP8JIT_LIBRARY") or os.environ.get("FP8JIT_LIB")
    if lib:
        os.environ["FP8JIT_LIBRARY"] = os.path.abspath(lib)  # read once, when fp8jit imports
    if args.cpu:
        os.environ.setdefault("FP8JIT_TARGET", "emu-sm89")
    try:
        import fp8jit  # noqa: F401
    except ImportError:
        sys.path.insert(0, os.path.join(REPO, "python"))
    import fp8jit
    if not os.path.exists(fp8jit.LIBRARY_PATH):
        fallback = os.path.join(REPO, "build", "libfp8jit.so")
        hint = (f"run again with --lib {fallback}" if not lib and os.path.exists(fallback)
                else "build it (scripts/build) and name it with --lib")
        raise ImportError(f"the library {fp8jit.LIBRARY_PATH} does not exist: {hint}")
    import fp8jit.torch as ft
    return fp8jit, ft


# ---- the block ----------------------------------------------------------------------------------

def make_block(torch, ft, hidden, intermediate, device, fp8, seed=0):
    """Random Llama-like weights quantized to FP8 per output channel: {'gate_up': (w, scale),
    'down': (w, scale)} with w [N, K] fp8 and scale [N] float32, plus the packed ones."""
    g = torch.Generator(device=device).manual_seed(seed)
    fp8_max = torch.finfo(fp8).max if fp8 == torch.float8_e4m3fn else 224.0
    block = {}
    for name, (n, k) in (("gate_up", (2 * intermediate, hidden)), ("down", (hidden, intermediate))):
        w = torch.randn(n, k, generator=g, device=device) * 0.02
        scale = w.abs().amax(dim=1) / fp8_max
        q = (w / scale[:, None]).clamp(-fp8_max, fp8_max).to(fp8)
        packed = ft.pack_weight(q, scale)
        ft.prepare(packed, torch.bfloat16, bias=False)  # every M's kernel now, none in a capture
        block[name] = {"w": q, "scale": scale.contiguous(), "scale_row": scale.reshape(1, n),
                       "w_t": q.t(), "packed": packed}
        del w
    return block


def quantize_per_token(torch, x, fp8):
    """vLLM's dynamic per-token quantization (QuantFP8's native rule)."""
    fp8_max = 448.0 if fp8 == torch.float8_e4m3fn else 224.0
    x_max = x.abs().amax(dim=-1, keepdim=True).to(torch.float32)
    scale = (x_max / fp8_max).clamp(min=1.0 / (fp8_max * 512.0))
    return (x.to(torch.float32) * scale.reciprocal()).clamp(-fp8_max, fp8_max).to(fp8), scale


def mlp_functions(torch, fp8):
    """(fp8jit's block, torch's block): f(x, w1, s1, w2, s2) with the same code around the GEMMs.
    fp8jit takes the packed weight and its [N] scales, torch the [K, N] view and [1, N] scales."""
    import torch.nn.functional as F

    def fp8jit_mm(a, a_scale, w, w_scale):
        return torch.ops.fp8jit.scaled_mm(a, a_scale, w, w_scale, None, torch.bfloat16)

    def torch_mm(a, a_scale, w, w_scale):
        return torch._scaled_mm(a, w, scale_a=a_scale, scale_b=w_scale, out_dtype=torch.bfloat16)

    def block_with(mm):
        def block(x, w1, s1, w2, s2):
            q, s = quantize_per_token(torch, x, fp8)
            h = mm(q, s, w1, s1)
            gate, up = h.chunk(2, dim=-1)
            q2, s2_ = quantize_per_token(torch, F.silu(gate) * up, fp8)
            return mm(q2, s2_, w2, s2)
        return block

    return block_with(fp8jit_mm), block_with(torch_mm)


def reference(torch, x, block):
    """float64: the same FP8 weights, the activations unquantized."""
    import torch.nn.functional as F
    w1 = block["gate_up"]["w"].double() * block["gate_up"]["scale"].double()[:, None]
    h = x.double() @ w1.t()
    del w1
    gate, up = h.chunk(2, dim=-1)
    a = F.silu(gate) * up
    w2 = block["down"]["w"].double() * block["down"]["scale"].double()[:, None]
    return a @ w2.t()


def max_row_rel(torch, got, ref):
    ref = ref.double()
    num = (got.double() - ref).norm(dim=1)
    den = ref.norm(dim=1).clamp(min=1e-30)
    return float((num / den).max())


# ---- running and timing -------------------------------------------------------------------------

class Runner:
    """One implementation at one batch: its compiled block on static inputs, captured into a CUDA
    graph on a GPU (on the CPU: called directly)."""

    def __init__(self, torch, fn, x, weights, use_graph):
        self.torch, self.x, self.weights = torch, x, weights
        self.graph = None
        self.fn = fn
        if use_graph:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # compile, load every kernel, settle the allocator
                    fn(x, *weights)
            torch.cuda.current_stream().wait_stream(side)
            torch.cuda.synchronize()
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.out = fn(x, *weights)
        else:
            self.out = fn(x, *weights)

    def run(self):
        if self.graph is not None:
            self.graph.replay()
        else:
            self.out = self.fn(self.x, *self.weights)
        return self.out


def time_runner(torch, runner, args):
    """Median us per block call."""
    for _ in range(args.warmup):
        runner.run()
    if runner.graph is None:  # the CPU: wall time of direct calls
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            for _ in range(args.inner):
                runner.run()
            times.append((time.perf_counter() - t0) * 1e6 / args.inner)
        return statistics.median(times)
    torch.cuda.synchronize()
    times = []
    for _ in range(args.reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(args.inner):
            runner.graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e3 / args.inner)
    return statistics.median(times)


def run_batches(torch, ft, args, device, fp8):
    block = make_block(torch, ft, args.hidden, args.intermediate, device, fp8)
    fp8jit_block, torch_block = mlp_functions(torch, fp8)
    if not args.no_compile:
        limit = 4 * len(args.batches) + 8
        for knob in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, knob):
                setattr(torch._dynamo.config, knob, max(getattr(torch._dynamo.config, knob), limit))
        fp8jit_block = torch.compile(fp8jit_block, fullgraph=True, dynamic=False)
        torch_block = torch.compile(torch_block, fullgraph=True, dynamic=False)
    gu, dn = block["gate_up"], block["down"]
    weights = {"fp8jit": (gu["packed"].packed, gu["packed"].scale, dn["packed"].packed,
                          dn["packed"].scale),
               "torch": (gu["w_t"], gu["scale_row"], dn["w_t"], dn["scale_row"])}
    use_graph = device.type == "cuda"
    gen = torch.Generator(device=device).manual_seed(1)
    rows, ok = [], True
    print(f"{'batch':>6} {'fp8jit_us':>10} {'torch_us':>10} {'fp8jit_tok/s':>13} "
          f"{'torch_tok/s':>12} {'ratio':>6} {'err_fp8jit':>10} {'err_torch':>10} "
          f"{'err_between':>11}", flush=True)
    for b in args.batches:
        x = torch.randn(b, args.hidden, generator=gen, device=device).to(torch.bfloat16)
        runners = {"fp8jit": Runner(torch, fp8jit_block, x, weights["fp8jit"], use_graph),
                   "torch": Runner(torch, torch_block, x, weights["torch"], use_graph)}
        outs = {name: r.run().clone() for name, r in runners.items()}
        if use_graph:
            torch.cuda.synchronize()
        ref = reference(torch, x, block)
        errs = {name: max_row_rel(torch, out, ref) for name, out in outs.items()}
        between = max_row_rel(torch, outs["fp8jit"], outs["torch"].double())
        del ref
        us = {name: time_runner(torch, r, args) for name, r in runners.items()}
        row = {"batch": b, "fp8jit_us": us["fp8jit"], "torch_us": us["torch"],
               "fp8jit_tokens_per_s": b / (us["fp8jit"] * 1e-6),
               "torch_tokens_per_s": b / (us["torch"] * 1e-6),
               "ratio": us["torch"] / us["fp8jit"], "err_fp8jit": errs["fp8jit"],
               "err_torch": errs["torch"], "err_between": between}
        passed = (errs["fp8jit"] <= args.tol and errs["torch"] <= args.tol
                  and errs["fp8jit"] <= errs["torch"] * (1 + args.tol_vs_torch))
        row["check"] = "ok" if passed else "FAIL"
        ok &= passed
        rows.append(row)
        print(f"{b:>6} {row['fp8jit_us']:>10.2f} {row['torch_us']:>10.2f} "
              f"{row['fp8jit_tokens_per_s']:>13.0f} {row['torch_tokens_per_s']:>12.0f} "
              f"{row['ratio']:>6.3f} {errs['fp8jit']:>10.4f} {errs['torch']:>10.4f} "
              f"{between:>11.4f} {row['check']}", flush=True)
        del runners, outs
    return rows, ok


# ---- host overhead ---------------------------------------------------------------------------------

def host_overhead(torch, fp8jit, ft, args, device, fp8):
    """us of host time per call at M = 1: the op (new output; into `out`), and the bare C calls
    through ctypes; under a CUDA graph, the GPU time of one op call against one C call."""
    from fp8jit import _lib
    n, k = args.overhead_n, args.overhead_k
    g = torch.Generator(device=device).manual_seed(2)
    w = (torch.randn(n, k, generator=g, device=device) * 2).to(fp8)
    pw = ft.pack_weight(w, torch.full((n,), 0.01, device=device))
    ft.prepare(pw, torch.bfloat16, bias=False)
    a = (torch.randn(1, k, generator=g, device=device) * 2).to(fp8)
    sa = torch.full((1, 1), 0.02, device=device)
    out = torch.empty(1, n, dtype=torch.bfloat16, device=device)
    ctx = ft.context(device)
    lib = _lib.library()
    plan = ctx.plan(pw.packed.data_ptr(), pw.scale.data_ptr(), n, k, "bf16", has_bias=False)
    ptrs = [t.data_ptr() for t in (a, sa, pw.packed, pw.scale, out)]

    def stream():
        return ctypes.c_void_p(ft._stream(ctx, device) or None)

    def c_gemm_packed(s):
        return lib.fp8jit_gemm_packed(ctx.handle, ptrs[0], ptrs[1], ptrs[2], ptrs[3], n, k, None,
                                      ptrs[4], 1, _lib.BF16, s)

    def c_plan_gemm(s):
        return lib.fp8jit_plan_gemm(plan._handle, ptrs[0], ptrs[1], None, ptrs[4], 1, s)

    op, op_out = torch.ops.fp8jit.scaled_mm.default, torch.ops.fp8jit.scaled_mm_out.default
    _noop_library(torch)
    noop = torch.ops.fp8jit_overhead_probe.noop.default
    variants = {
        "c_gemm_packed": lambda s: c_gemm_packed(s),
        "c_plan_gemm": lambda s: c_plan_gemm(s),
        "op": lambda s: op(a, sa, pw.packed, pw.scale, None, torch.bfloat16),
        "op_out": lambda s: op_out(a, sa, pw.packed, pw.scale, None, out),
        "ft_scaled_mm": lambda s: ft.scaled_mm(a, sa, pw),
        "ft_scaled_mm_out": lambda s: ft.scaled_mm(a, sa, pw, out=out),
        # Where the op's time goes: its kernel's call into fp8jit without the dispatcher, a new
        # output tensor, and a dispatcher round trip into a Python kernel that does nothing.
        "part_run": lambda s: ft._run(a, sa, pw.packed, pw.scale, None, out),
        "part_empty": lambda s: torch.empty(1, n, dtype=torch.bfloat16, device=device),
        "part_dispatch": lambda s: noop(a),
    }
    calls = args.overhead_calls if device.type == "cuda" else min(args.overhead_calls, 20)
    reps = args.overhead_reps if device.type == "cuda" else min(args.overhead_reps, 3)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    result = {"n": n, "k": k, "m": 1, "calls": calls, "reps": reps}
    host_memory = ft._host_memory(ctx, a, sa, pw.packed, pw.scale, out)  # the emulator only
    with host_memory:
        for name, f in variants.items():
            s = stream()
            status = f(s)
            if isinstance(status, int) and status != 0:
                _lib.check(status, f"the {name} call")
            sync()
            times = []
            for _ in range(reps):
                sync()
                t0 = time.perf_counter()
                for _ in range(calls):
                    f(s)
                times.append((time.perf_counter() - t0) * 1e6 / calls)
                sync()
            result[f"{name}_us"] = statistics.median(times)
        result["op_over_c_us"] = result["op_us"] - result["c_gemm_packed_us"]
        result["op_out_over_c_us"] = result["op_out_us"] - result["c_gemm_packed_us"]
        result["ft_scaled_mm_over_c_us"] = result["ft_scaled_mm_us"] - result["c_gemm_packed_us"]
        if device.type == "cuda":
            result.update(graph_per_call(torch, {"graph_op": variants["op_out"],
                                                 "graph_c_plan_gemm": variants["c_plan_gemm"]},
                                         stream, args))
    return result


@functools.cache
def _noop_library(torch):
    """A library with an op whose Python kernel does nothing (its `noop`): the dispatcher's own
    share of the op's time. Defined once per process (a second definition is an error)."""
    lib = torch.library.Library("fp8jit_overhead_probe", "DEF")
    lib.define("noop(Tensor a) -> ()")
    for key in ("CPU", "CUDA"):
        lib.impl("noop", lambda a: None, key)
    return lib


def graph_per_call(torch, variants, stream, args, calls=20):
    """GPU us per call of `calls` calls captured into one CUDA graph (median of --reps)."""
    res = {}
    from fp8jit import _lib
    for name, f in variants.items():
        graph = torch.cuda.CUDAGraph()
        statuses = []
        with torch.cuda.graph(graph):
            s = stream()  # the capture stream
            for _ in range(calls):
                statuses.append(f(s))
        for status in statuses:  # a C call that failed captured nothing: say so, time nothing
            if isinstance(status, int) and status != 0:
                _lib.check(status, f"the {name} call under capture")
        for _ in range(5):
            graph.replay()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.reps):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            graph.replay()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) * 1e3 / calls)
        res[f"{name}_us"] = statistics.median(times)
    return res


# ---- main ---------------------------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        print("llama_mlp: PyTorch is not installed", file=sys.stderr)
        return 2
    try:
        fp8jit, ft = import_fp8jit(args)
    except ImportError as e:
        print(f"llama_mlp: {e}", file=sys.stderr)
        return 2
    if args.cpu:
        device = torch.device("cpu")
    elif not torch.cuda.is_available():
        print("llama_mlp: no CUDA device (torch.cuda.is_available() is False); --cpu runs the "
              "emulator", file=sys.stderr)
        return 2
    else:
        device = torch.device("cuda", torch.cuda.current_device())
    ctx = ft.context(device)
    fp8 = ft._FP8_DTYPES[ctx.fp8_format]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({ctx.target})"
    print(f"llama_mlp: {name}, fp8jit {fp8jit.version()} ({ctx.target}, {fp8jit.LIBRARY_PATH}), "
          f"torch {torch.__version__}, H={args.hidden} I={args.intermediate}, "
          f"{'eager' if args.no_compile else 'torch.compile'}"
          f"{' + CUDA graphs' if device.type == 'cuda' else ''}", flush=True)
    rows, ok = run_batches(torch, ft, args, device, fp8)
    overhead = host_overhead(torch, fp8jit, ft, args, device, fp8)
    print(f"host overhead at M=1, [{overhead['n']}, {overhead['k']}] weight, eager (us per call): "
          + ", ".join(f"{key[:-3]} {v:.2f}" for key, v in overhead.items() if key.endswith("_us")),
          flush=True)
    if args.csv:
        cols = list(rows[0].keys())
        with open(args.csv, "w") as f:
            f.write(",".join(cols) + "\n")
            for r in rows:
                f.write(",".join(f"{r[c]:.6g}" if isinstance(r[c], float) else str(r[c])
                                 for c in cols) + "\n")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": name, "target": ctx.target, "fp8jit": fp8jit.version(),
                       "torch": torch.__version__, "python": sys.version.split()[0],
                       "hidden": args.hidden, "intermediate": args.intermediate,
                       "compiled": not args.no_compile, "cuda_graphs": device.type == "cuda",
                       "reps": args.reps, "inner": args.inner, "warmup": args.warmup,
                       "tol": args.tol, "tol_vs_torch": args.tol_vs_torch,
                       "rows": rows, "host_overhead": overhead}, f, indent=1)
    if not ok:
        print("llama_mlp: an output is outside the FP8 tolerance (check column)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
