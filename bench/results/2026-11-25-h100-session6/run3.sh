#!/bin/bash
# Session 6, run 3: a wider search at M = 16 (64 candidates per point, so that the cost model's
# tied mma_sm89 configs down to one warp per k-slice get timed) and M = 1 again (24) with the
# pipelined mma_sm89; then M = 1, 16 twice with the run-2 and run-3 rows over the table.
set -u
R=$OUT/r3; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=tuned/h100_sm90a.csv; P=bench/results/2026-11-25-h100-session6/run2
export FP8JIT_TUNED_TABLES=$T:$P/tuned-16.csv:$P/tuned-small.csv FP8JIT_CACHE_DIR=/tmp/c-new
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
TO=330 t tune-16 $B/fp8jit tune --m 16 --candidates 64 --reps 10 --out $R/tuned-16.csv
TO=150 t tune-1 $B/fp8jit tune --m 1 --candidates 24 --reps 10 --out $R/tuned-1.csv
export FP8JIT_TUNED_TABLES=$FP8JIT_TUNED_TABLES:$R/tuned-16.csv:$R/tuned-1.csv
for v in 1 2; do TO=50 t dec-$v $B/fp8jit bench --m 1,16 --csv $R/dec-$v.csv; done
cd $OUT && tar czf r3.tgz r3 && rm -rf r3
