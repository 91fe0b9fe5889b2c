#!/usr/bin/env bash
# A/B of the persistent grid (abv/P1: this commit) against the previous commit (abv/P0), M = 256
# to 8192, two rounds on one machine; P1s6 = P1 with the table's bm128_bn128 s7 rows (too big for
# the epilogue buffers, so not persistent) at s6. Then the [gpu] tests of P1 (build-gpu).
cd "$(dirname "$0")/../../.."
O=/tmp/ab2; rm -rf $O; mkdir -p $O
for r in 1 2; do
  FP8JIT_CACHE_DIR=/tmp/fcP0 abv/P0/fp8jit bench --m 256,1024,4096,8192 --csv $O/P0-$r.csv > $O/P0-$r.log 2>&1
  FP8JIT_CACHE_DIR=/tmp/fcP1 abv/P1/fp8jit bench --m 256,1024,4096,8192 --csv $O/P1-$r.csv > $O/P1-$r.log 2>&1
  FP8JIT_TUNED_TABLES=abv/s6.csv FP8JIT_CACHE_DIR=/tmp/fcP1 abv/P1/fp8jit bench --m 256,1024,4096,8192 --csv $O/P1s6-$r.csv > $O/P1s6-$r.log 2>&1
done
FP8JIT_CACHE_DIR=/tmp/fcT timeout 240 build-gpu/tests/fp8jit_tests "[gpu]~[slow]" > $O/gpu-tests.log 2>&1; echo "tests rc=$?" >> $O/gpu-tests.log
tar czf $OUT/ab2.tgz -C /tmp ab2
python3 - $O <<'PY'
import csv, sys, math
o = sys.argv[1]
def load(v, r): return {(x['shape'], x['M']): (float(x['fp8jit_us']), float(x['cublas_us'])) for x in csv.DictReader(open(f"{o}/{v}-{r}.csv"))}
V = ["P0", "P1", "P1s6"]
runs = {v: [load(v, r) for r in (1, 2)] for v in V}
keys = list(runs['P0'][0])
print(f"{'shape':20s} {'M':>5s} " + " ".join(f"{v:>17s}" for v in V) + "   (fp8jit us, run1/run2)")
for k in keys:
    print(f"{k[0]:20s} {k[1]:>5s} " + " ".join(f"{runs[v][0][k][0]:8.2f}/{runs[v][1][k][0]:8.2f}" for v in V))
for v in V:
    for M in ("256", "1024", "4096", "8192"):
        ks = [k for k in keys if k[1] == M]
        g = [math.exp(sum(math.log(runs[v][r][k][1] / runs[v][r][k][0]) for k in ks) / len(ks)) for r in (0, 1)]
        print(f"{v:5s} M={M:5s} geomean cuBLASLt/fp8jit {g[0]:.3f} / {g[1]:.3f}")
PY
tail -3 $O/gpu-tests.log; echo "gemm-checks $(grep -c '^gemm-check' $O/gpu-tests.log), not ok $(grep '^gemm-check' $O/gpu-tests.log | grep -vc ' ok$')"
