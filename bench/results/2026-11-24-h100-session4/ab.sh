#!/usr/bin/env bash
# A/B of the W load and the consumer loop's shape (variant binaries under abv/, each with its
# own cache): A = TMA box for W + loop with a break; B = TMA + two steps and an odd tail;
# C = bulk copies for W + break loop; D = bulk copies + odd tail (the previous commit's shape).
cd "$(dirname "$0")/../../.."
O=${OUT:-/tmp/out}
for r in 1 2; do
  for v in A B C D; do
    FP8JIT_CACHE_DIR=/tmp/fcv$v abv/$v/fp8jit bench --m 16,64,256 --reps 20 --csv $O/ab-$v-$r.csv > $O/ab-$v-$r.log 2>&1
  done
done
python3 - "$O" <<'PY'
import csv, sys, math
o = sys.argv[1]
def load(v, r): return {(x['shape'], x['M']): float(x['fp8jit_us']) for x in csv.DictReader(open(f"{o}/ab-{v}-{r}.csv"))}
runs = {v: [load(v, r) for r in (1, 2)] for v in "ABCD"}
keys = list(runs['A'][0])
print(f"{'shape':20s} {'M':>5s} " + " ".join(f"{v:>15s}" for v in "ABCD"))
for k in keys:
    print(f"{k[0]:20s} {k[1]:>5s} " + " ".join(f"{runs[v][0][k]:7.2f}/{runs[v][1][k]:7.2f}" for v in "ABCD"))
for v in "ABCD":
    g = math.exp(sum(math.log(min(runs[v][0][k], runs[v][1][k]) / min(runs['D'][0][k], runs['D'][1][k])) for k in keys) / len(keys))
    print(f"{v}: geomean time vs D (best of two) {g:.3f}")
PY
