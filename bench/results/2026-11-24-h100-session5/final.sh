#!/bin/bash
# Session 5, the committed code (19fff45 + its table): the full suite with PDL on (the default),
# the [gpu] tests, then the full suite with FP8JIT_PDL=0 in the same session.
set -u
R=$OUT/final; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -${TAILN:-12} $R/$name.log; }
TO=170 t bench $B/fp8jit bench --csv $R/bench.csv
TO=260 TAILN=3 t gpu-tests $B/tests/fp8jit_tests "[gpu]~[slow]"
echo "gemm-checks $(grep -c '^gemm-check' $R/gpu-tests.log), not ok $(grep '^gemm-check' $R/gpu-tests.log | grep -vc ' ok$'); pdl-order $(grep -c '^pdl-order.* ok$' $R/gpu-tests.log) ok"
grep -m1 '^overhead:' $R/gpu-tests.log
FP8JIT_PDL=0 TO=150 TAILN=9 t bench-pdl-off $B/fp8jit bench --csv $R/bench-pdl-off.csv
cd $OUT && tar czf final.tgz final && rm -rf final
