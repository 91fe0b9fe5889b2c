#!/bin/bash
# Session 8, run 2: main (abv/main) against abv/pf (tensor-map prefetch; the first stages'
# weight copies before griddepcontrol.wait) and abv/wgepi (pf + an epilogue staged per consumer
# warpgroup, stored as whole 128-byte rows), tuned table, M = 256,1024 interleaved twice, then
# M = 16,64,4096 once; then the GPU tests of the wgepi build (build-gpu).
set -u
R=$OUT/s8r2; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
export FP8JIT_TUNED_TABLES=tuned/h100_sm90a.csv
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "geomean|inaccurate" $R/$name.log; }
for i in 1 2; do for v in main pf wgepi; do
  FP8JIT_CACHE_DIR=/tmp/c-$v TO=90 t ab-$v-$i abv/$v bench --m 256,1024 --csv $R/ab-$v-$i.csv
done; done
for v in main wgepi; do
  FP8JIT_CACHE_DIR=/tmp/c-$v TO=150 t lo-$v abv/$v bench --m 16,64,4096 --csv $R/lo-$v.csv
done
FP8JIT_CACHE_DIR=/tmp/c-tests TO=240 t gpu-tests build-gpu/tests/fp8jit_tests "[gpu]~[slow]"
tail -4 $R/gpu-tests.log
cd $OUT && tar czf s8r2.tgz s8r2 && rm -rf s8r2
