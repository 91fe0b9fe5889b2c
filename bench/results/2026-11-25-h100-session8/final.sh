#!/bin/bash
# Session 8, final: the committed code (6a53a77: the warpgroup epilogue) — the full suite with the
# shipped table, the [gpu] tests; then (final-san.sh) compute-sanitizer.
set -u
R=$OUT/final; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu
export FP8JIT_CACHE_DIR=/tmp/c-final
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -12 $R/$name.log; }
TO=240 t bench $B/fp8jit bench --csv $R/bench.csv
TO=240 t gpu-tests $B/tests/fp8jit_tests "[gpu]~[slow]"
cd $OUT && tar czf final.tgz final && rm -rf final
