#!/bin/bash
# Session 5, run 1: programmatic dependent launch (PDL) — correctness, then an A/B at M = 1, 16,
# then the full suite with PDL on and off. Variant binaries (abv/, built from the same tree with one
# edit each, not committed): nowait (no griddepcontrol.wait: the ordering test must fail),
# noprefetch (PDL without the L2 prefetch before the wait), pf24 (mma_sm89 prefetch budget 24 MiB
# instead of 8).
set -u
R=$OUT/r; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -3 $R/$name.log; }
TO=90 t pdl-test $B/tests/fp8jit_tests "[pdl]"
TO=90 t pdl-test-nowait abv/nowait/tests/fp8jit_tests "[pdl]"
TO=90 t graph-test $B/tests/fp8jit_tests "[graph]"
for v in 1 2; do
  FP8JIT_PDL=0 TO=60 t ab-off-$v $B/fp8jit bench --m 1,16 --csv $R/ab-off-$v.csv
  TO=60 t ab-on-$v $B/fp8jit bench --m 1,16 --csv $R/ab-on-$v.csv
  TO=60 t ab-nopf-$v abv/noprefetch/fp8jit bench --m 1,16 --csv $R/ab-nopf-$v.csv
  TO=60 t ab-pf24-$v abv/pf24/fp8jit bench --m 1,16 --csv $R/ab-pf24-$v.csv
done
TO=60 t ab-on-mincalls1 $B/fp8jit bench --m 1,16 --min-calls 1 --csv $R/ab-on-mincalls1.csv
FP8JIT_PDL=0 TO=60 t ab-off-mincalls1 $B/fp8jit bench --m 1,16 --min-calls 1 --csv $R/ab-off-mincalls1.csv
TO=150 t full-on $B/fp8jit bench --csv $R/full-on.csv
cd $OUT && tar czf r.tgz r && rm -rf r
