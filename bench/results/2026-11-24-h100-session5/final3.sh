#!/bin/bash
# Session 5, the committed code (waits placed as in latewait/): the full suite (PDL on, the default
# protocol), the [gpu] tests, then compute-sanitizer over the [sanitize] selection.
set -u
R=$OUT/final3; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "^  M=" $R/$name.log; }
TO=170 t bench $B/fp8jit bench --csv $R/bench.csv
TO=200 t gpu-tests $B/tests/fp8jit_tests "[gpu]~[slow]"
tail -3 $R/gpu-tests.log
echo "gemm-checks $(grep -c '^gemm-check' $R/gpu-tests.log), not ok $(grep '^gemm-check' $R/gpu-tests.log | grep -vc ' ok$'); pdl-order $(grep -c '^pdl-order.* ok$' $R/gpu-tests.log) ok"
grep -m1 '^overhead:' $R/gpu-tests.log
OUT=$R/san FP8JIT_TUNED_TABLES=none FP8JIT_BUILD_DIR=$B FP8JIT_SANITIZE_TIMEOUT=240 timeout 250 scripts/gpu-sanitize > $R/sanitize.log 2>&1; echo "rc=$?" >> $R/sanitize.log
grep -E '^sanitize( [a-z]+  |: SKIPPED)|^rc=' $R/sanitize.log | tail -4
cd $OUT && tar czf final3.tgz final3 && rm -rf final3
