#!/bin/bash
# Session 8, run 3: main (abv/main) against abv/wg2 (tensor-map prefetch + the epilogue staged
# per consumer warpgroup; build-gpu holds the same code) and abv/wgepi (wg2 + the first stages'
# weight copies before griddepcontrol.wait), tuned table, M = 256,1024, interleaved, twice; then
# re-tune M = 256 and 1024 with the wg2 kernels (the table's rows timed alongside).
set -u
R=$OUT/s8r3; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
export FP8JIT_TUNED_TABLES=tuned/h100_sm90a.csv
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "geomean|inaccurate|tuned into" $R/$name.log; }
for i in 1 2; do for v in main wg2 wgepi; do
  FP8JIT_CACHE_DIR=/tmp/c-$v TO=90 t ab-$v-$i abv/$v bench --m 256,1024 --csv $R/ab-$v-$i.csv
done; done
FP8JIT_CACHE_DIR=/tmp/c-wg2 TO=200 t tune-256 build-gpu/fp8jit tune --m 256 --candidates 16 --reps 10 --out $R/tuned-256.csv
FP8JIT_CACHE_DIR=/tmp/c-wg2 TO=200 t tune-1024 build-gpu/fp8jit tune --m 1024 --candidates 12 --reps 10 --out $R/tuned-1024.csv
cd $OUT && tar czf s8r3.tgz s8r3 && rm -rf s8r3
