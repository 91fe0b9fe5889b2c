#!/bin/bash
# Session 8, run 1: where the fixed time of an M = 256 / 1024 wgmma call goes, and a fix.
# trace: main (eeb9a98's kernels) with %globaltimer stamps printed per block (abv/maintrace:
#   producer entry / first copy / last copy; consumer start / first step / main loop end /
#   epilogue start / end), all eight shapes at M = 256 and 1024, PDL off (printf).
# ab: main (abv/main) against abv/pf (tensor-map prefetch; the first stages' weight copies
#   before griddepcontrol.wait), M = 256,1024, interleaved, twice.
set -u
R=$OUT/s8r1; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -3 $R/$name.log | head -2; }
FP8JIT_CACHE_DIR=/tmp/c-tr FP8JIT_PDL=0 TO=120 t trace abv/maintrace bench --m 256,1024 --reps 1 --min-calls 1
for i in 1 2; do for v in main pf; do
  FP8JIT_CACHE_DIR=/tmp/c-$v TO=90 t ab-$v-$i abv/$v bench --m 256,1024 --csv $R/ab-$v-$i.csv
done; done
cd $OUT && tar czf s8r1.tgz s8r1 && rm -rf s8r1
