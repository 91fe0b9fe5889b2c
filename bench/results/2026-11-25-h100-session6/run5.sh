#!/bin/bash
# Session 6, run 5: M = 256 and 1024 sat below 1.1 in run 4 (1.092, 1.079) on this pool's
# machine; re-tune them (32 candidates, the table's row and its neighbours timed alongside), then
# bench M = 256, 1024 with the table and with the new rows, interleaved twice.
set -u
R=$OUT/r5; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=tuned/h100_sm90a.csv
export FP8JIT_TUNED_TABLES=$T FP8JIT_CACHE_DIR=/tmp/c-new
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
TO=300 t tune-mid $B/fp8jit tune --m 256,1024 --candidates 32 --reps 10 --out $R/tuned-mid.csv
for v in 1 2; do
  TO=60 t mid-table-$v $B/fp8jit bench --m 256,1024 --csv $R/mid-table-$v.csv
  FP8JIT_TUNED_TABLES=$T:$R/tuned-mid.csv TO=60 t mid-new-$v $B/fp8jit bench --m 256,1024 --csv $R/mid-new-$v.csv
done
cd $OUT && tar czf r5.tgz r5 && rm -rf r5
