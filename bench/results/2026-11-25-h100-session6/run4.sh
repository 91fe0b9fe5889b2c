#!/bin/bash
# Session 6, run 4: the tuner with the neighbouring rows among its candidates, at M = 16 with the
# default-sized search (24 candidates) over the merged table (tuned/h100_sm90a.csv as of this
# commit); then the full suite with those rows over the table, and the [gpu] tests.
set -u
R=$OUT/r4; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=tuned/h100_sm90a.csv
export FP8JIT_TUNED_TABLES=$T FP8JIT_CACHE_DIR=/tmp/c-new
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
TO=150 t tune-16 $B/fp8jit tune --m 16 --candidates 24 --reps 10 --out $R/tuned-16.csv
FP8JIT_TUNED_TABLES=$T:$R/tuned-16.csv TO=200 t bench $B/fp8jit bench --csv $R/bench.csv
TO=200 t gpu-tests $B/tests/fp8jit_tests "[gpu]~[slow]"
cd $OUT && tar czf r4.tgz r4 && rm -rf r4
