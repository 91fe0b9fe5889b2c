#!/bin/bash
# Session 5, after isolate/: the consumers' code of a persistent wgmma block back as in session 4
# (only its producer lets the next kernel start). The session-4 binary (abv/s4, not committed)
# against this one at M = 256, 1024 with PDL off and on (one round of calls per region); then the
# committed code's full suite (PDL on, the default protocol) and its [gpu] tests.
set -u
R=$OUT/final2; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "^  M=" $R/$name.log; }
for v in 1 2; do
  FP8JIT_PDL=0 TO=60 t s4-$v abv/s4/fp8jit bench --shapes abv/shapes.txt --m 256,1024 --csv $R/s4-$v.csv
  FP8JIT_PDL=0 TO=60 t off-$v $B/fp8jit bench --shapes abv/shapes.txt --m 256,1024 --min-calls 1 --csv $R/off-$v.csv
  TO=60 t on-$v $B/fp8jit bench --shapes abv/shapes.txt --m 256,1024 --min-calls 1 --csv $R/on-$v.csv
done
TO=170 t bench $B/fp8jit bench --csv $R/bench.csv
TO=260 t gpu-tests $B/tests/fp8jit_tests "[gpu]~[slow]"
tail -3 $R/gpu-tests.log
echo "gemm-checks $(grep -c '^gemm-check' $R/gpu-tests.log), not ok $(grep '^gemm-check' $R/gpu-tests.log | grep -vc ' ok$'); pdl-order $(grep -c '^pdl-order.* ok$' $R/gpu-tests.log) ok"
grep -m1 '^overhead:' $R/gpu-tests.log
cd $OUT && tar czf final2.tgz final2 && rm -rf final2
