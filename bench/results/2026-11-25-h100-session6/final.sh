#!/bin/bash
# Session 6, final: the committed code (045790a) — the full suite with the shipped table, the
# [gpu] tests, compute-sanitizer memcheck / racecheck / initcheck.
set -u
R=$OUT/final; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu
export FP8JIT_CACHE_DIR=/tmp/c-final
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
TO=180 t bench $B/fp8jit bench --csv $R/bench.csv
TO=150 t gpu-tests $B/tests/fp8jit_tests "[gpu]~[slow]"
OUT=$R/san FP8JIT_TUNED_TABLES=none FP8JIT_BUILD_DIR=$B TO=250 t sanitize scripts/gpu-sanitize
cd $OUT && tar czf final.tgz final && rm -rf final
