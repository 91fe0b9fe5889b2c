#!/usr/bin/env bash
# Session 4, last call: (1) llama3-70b.qkv M = 1024 with the table's row (bm128_bn256 s4) against
# bm128_bn128 s6 (persistent, 640 tiles = 4.85 waves instead of 2.42; abv/t-s6.csv), alternating,
# and the full bench with the faster table; (2) the [gpu] tests. (sanitize.sh: compute-sanitizer.)
cd "$(dirname "$0")/../../.."
O=/tmp/final; rm -rf $O; mkdir -p $O
export FP8JIT_CACHE_DIR=/tmp/fcF
nvidia-smi --query-gpu=name,driver_version,clocks.sm,temperature.gpu --format=csv,noheader > $O/device.txt
printf '10240,8192\n' > $O/qkv70.csv
for r in 1 2; do
  build-gpu/fp8jit bench --shapes $O/qkv70.csv --m 1024 --csv $O/qkv70-table-$r.csv > /dev/null 2>&1
  FP8JIT_TUNED_TABLES=abv/t-s6.csv build-gpu/fp8jit bench --shapes $O/qkv70.csv --m 1024 --csv $O/qkv70-s6-$r.csv > /dev/null 2>&1
done
pick=$(python3 - $O <<'PY'
import csv, sys
o = sys.argv[1]
t = lambda v: sum(float(next(csv.DictReader(open(f"{o}/qkv70-{v}-{r}.csv")))['fp8jit_us']) for r in (1, 2)) / 2
a, b = t("table"), t("s6")
print("s6" if b < a else "table", f"{a:.2f}", f"{b:.2f}")
PY
)
echo "llama3-70b.qkv M=1024: table vs s6 (mean of 2): $pick" | tee $O/pick.txt
tables=""; [ "${pick%% *}" = s6 ] && tables=abv/t-s6.csv
FP8JIT_TUNED_TABLES=${tables:-$(ls build-gpu/share/fp8jit/tuned/*.csv)} build-gpu/fp8jit bench --csv $O/bench.csv > $O/bench.log 2>&1
timeout 240 build-gpu/tests/fp8jit_tests "[gpu]~[slow]" > $O/gpu-tests.log 2>&1; echo "tests rc=$?" >> $O/gpu-tests.log
tar czf $OUT/final.tgz -C /tmp final
tail -11 $O/bench.log; tail -2 $O/gpu-tests.log
echo "gemm-checks $(grep -c '^gemm-check' $O/gpu-tests.log), not ok $(grep '^gemm-check' $O/gpu-tests.log | grep -vc ' ok$')"
grep -m1 '^overhead:' $O/gpu-tests.log
