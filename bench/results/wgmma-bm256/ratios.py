#!/usr/bin/env python3
"""Per-M ratios of an `fp8jit bench --heuristic` CSV against cuBLASLt (same process) and the CUTLASS
anchor's CSV (same device call): best anchor time / fp8jit time, > 1 when fp8jit is faster.
Usage: ratios.py BENCH.csv CUTLASS.csv [column]   column: fp8jit_us (the table's rows, default)
or heuristic_us (the cost model's pick)."""
import csv, math, sys
from collections import defaultdict

bench = list(csv.DictReader(open(sys.argv[1])))
col = sys.argv[3] if len(sys.argv) > 3 else "fp8jit_us"
cutlass = {(r["N"], r["K"], r["M"]): float(r["us"]) for r in csv.DictReader(open(sys.argv[2]))}
by_m = defaultdict(list)
print(f"{'shape':20} {'M':>6} {'fp8jit':>9} {'cuBLASLt':>9} {'CUTLASS':>9} {'TFLOP/s':>8} {'/CUTLASS':>9} {'/best':>7}  config")
for r in bench:
    key = (r["N"], r["K"], r["M"])
    us, cb, cu = float(r[col]), float(r["cublas_us"]), cutlass.get(key, math.nan)
    m, n, k = (int(x) for x in (r["M"], r["N"], r["K"]))
    best = min(cb, cu)
    by_m[m].append((cu / us, best / us, r["shape"]))
    cfg = r["config"] if col == "fp8jit_us" else r["heuristic_config"]
    print(f"{r['shape']:20} {m:6} {us:9.2f} {cb:9.2f} {cu:9.2f} {2*m*n*k/us/1e6:8.1f} {cu/us:9.3f} {best/us:7.3f}  {cfg}")
gm = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs))
print(f"\n{'M':>6} {'CUTLASS/fp8jit geomean':>23} {'worst':>7} {'best anchor/fp8jit geomean':>27} {'worst':>7}")
allc, allb = [], []
for m in sorted(by_m):
    c = [x[0] for x in by_m[m]]; b = [x[1] for x in by_m[m]]
    allc += c; allb += b
    print(f"{m:6} {gm(c):23.3f} {min(c):7.3f} {gm(b):27.3f} {min(b):7.3f}")
print(f"{'all':>6} {gm(allc):23.3f} {min(allc):7.3f} {gm(allb):27.3f} {min(allb):7.3f}")
