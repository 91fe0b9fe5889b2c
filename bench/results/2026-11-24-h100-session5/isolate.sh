#!/bin/bash
# Session 5: which part of the wgmma change costs the bm128_bn256 configs at M = 1024 with PDL off?
# session-4 binary (abv/s4) vs the current one vs the current one without launch_dependents in
# gemm_sm90.cuh (abv/nolaunch) vs without its grid_dependency_wait (abv/nowait90); all with
# FP8JIT_PDL=0 and one round of calls per timed region (abv/ not committed).
set -u
R=$OUT/isolate; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
export FP8JIT_PDL=0
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "^  M=" $R/$name.log; }
for v in 1 2; do
  TO=60 t s4-$v abv/s4/fp8jit bench --shapes abv/shapes.txt --m 256,1024 --csv $R/s4-$v.csv
  TO=60 t cur-$v build-gpu/fp8jit bench --shapes abv/shapes.txt --m 256,1024 --min-calls 1 --csv $R/cur-$v.csv
  for x in nolaunch nowait90; do TO=60 t $x-$v abv/$x/fp8jit bench --shapes abv/shapes.txt --m 256,1024 --min-calls 1 --csv $R/$x-$v.csv; done
done
cd $OUT && tar czf isolate.tgz isolate && rm -rf isolate
