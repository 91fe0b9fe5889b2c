#!/bin/bash
# Session 8, recheck 2: recheck.sh's bench on an H100 (recheck.sh itself landed on an H200):
# e4a2b77, M = 256 / 1024 twice with the shipped table.
set -u
R=$OUT/recheck2; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,uuid --format=csv,noheader > $R/device.txt
export FP8JIT_CACHE_DIR=/tmp/c-recheck
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "geomean|inaccurate|All tests|failed" $R/$name.log; }
for i in 1 2; do TO=120 t bench-$i build-gpu/fp8jit bench --m 256,1024 --csv $R/bench-$i.csv; done
cd $OUT && tar czf recheck2.tgz recheck2 && rm -rf recheck2
