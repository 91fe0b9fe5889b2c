#!/bin/bash
# Session 5: the last ~3% at M = 1024 for bm128_bn256 (final2/): a variant (abv/latewait, not
# committed) whose producer thread waits just before its first copy and whose consumers wait just
# before each epilogue, instead of every thread after the barrier. Ordering test and M = 256, 1024
# against session 4's binary (PDL off); then compute-sanitizer over the committed code (b5c6d25).
set -u
R=$OUT/latewait; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "^  M=|passed|failed" $R/$name.log; }
TO=60 t pdl-test-latewait abv/latewait/tests/fp8jit_tests "[pdl]" -s
for v in 1 2; do
  FP8JIT_PDL=0 TO=60 t s4-$v abv/s4/fp8jit bench --shapes abv/shapes.txt --m 1024 --csv $R/s4-$v.csv
  FP8JIT_PDL=0 TO=60 t off-$v $B/fp8jit bench --shapes abv/shapes.txt --m 1024 --min-calls 1 --csv $R/off-$v.csv
  FP8JIT_PDL=0 TO=60 t late-$v abv/latewait/fp8jit bench --shapes abv/shapes.txt --m 1024 --min-calls 1 --csv $R/late-$v.csv
done
OUT=$R/san FP8JIT_TUNED_TABLES=none FP8JIT_BUILD_DIR=$B FP8JIT_SANITIZE_TIMEOUT=300 timeout 330 scripts/gpu-sanitize > $R/sanitize.log 2>&1; echo "rc=$?" >> $R/sanitize.log
grep -E '^sanitize( [a-z]+  |: SKIPPED)|^rc=' $R/sanitize.log | tail -4
cd $OUT && tar czf latewait.tgz latewait && rm -rf latewait
