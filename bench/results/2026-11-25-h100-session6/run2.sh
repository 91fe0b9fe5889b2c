#!/bin/bash
# Session 6, run 2: re-tune with the pipelined mma_sm89 and the cost model that charges a weight
# larger than L2 once per token tile (so bm = 16 mma_sm89 configs rank first at M = 16): M = 16
# with 24 candidates, M = 2, 4, 8, 32 with 10; then the bench at M = 1..32 with the new rows.
set -u
R=$OUT/r2; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=tuned/h100_sm90a.csv
export FP8JIT_TUNED_TABLES=$T FP8JIT_CACHE_DIR=/tmp/c-new
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
TO=260 t tune-16 $B/fp8jit tune --m 16 --candidates 24 --reps 10 --out $R/tuned-16.csv
TO=240 t tune-small $B/fp8jit tune --m 2,4,8,32 --candidates 10 --reps 10 --out $R/tuned-small.csv
FP8JIT_TUNED_TABLES=$T:$R/tuned-16.csv:$R/tuned-small.csv TO=60 t dec-tuned $B/fp8jit bench --m 1,2,4,8,16,32 --csv $R/dec-tuned.csv
cd $OUT && tar czf r2.tgz r2 && rm -rf r2
