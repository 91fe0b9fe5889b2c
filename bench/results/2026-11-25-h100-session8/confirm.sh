#!/bin/bash
# Session 8, confirm: the committed code (6a53a77) on a freshly started machine — M = 16, 256,
# 1024 with the shipped table, three passes (the targets that sat within ~0.02 before).
set -u
R=$OUT/confirm; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,uuid --format=csv,noheader > $R/device.txt
export FP8JIT_CACHE_DIR=/tmp/c-confirm
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "geomean|inaccurate" $R/$name.log; }
for i in 1 2 3; do TO=120 t bench-$i build-gpu/fp8jit bench --m 16,256,1024 --csv $R/bench-$i.csv; done
cd $OUT && tar czf confirm.tgz confirm && rm -rf confirm
