#!/bin/bash
# Session 8, recheck: the epilogue tidy-up (a row check that always held removed) — the [gpu]
# tests and M = 256 / 1024 once with the shipped table.
set -u
R=$OUT/recheck; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,uuid --format=csv,noheader > $R/device.txt
export FP8JIT_CACHE_DIR=/tmp/c-recheck
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "geomean|inaccurate|All tests|failed" $R/$name.log; }
TO=240 t gpu-tests build-gpu/tests/fp8jit_tests "[gpu]~[slow]"
TO=120 t bench build-gpu/fp8jit bench --m 256,1024 --csv $R/bench.csv
cd $OUT && tar czf recheck.tgz recheck && rm -rf recheck
