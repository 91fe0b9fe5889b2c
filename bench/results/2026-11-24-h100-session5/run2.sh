#!/bin/bash
# Session 5, run 2: the ordering test (and the same test with griddepcontrol.wait removed, which
# must fail); M = 1, 16 with PDL on and off (the wgmma L2 prefetch removed after run 1); M = 16
# with the M = 1 rows' mma_sm89 configs (tA: bm16, tB: bm8, abv/, not committed); a re-tune of
# M = 1, 16 with PDL on; the bench with its rows.
set -u
R=$OUT/r2; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=$B/share/fp8jit/tuned/h100_sm90a.csv
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -3 $R/$name.log; }
TO=90 t pdl-test $B/tests/fp8jit_tests "[pdl]" -s
TO=90 t pdl-test-nowait abv/nowait/tests/fp8jit_tests "[pdl]" -s
for v in 1 2; do
  TO=60 t dec-on-$v $B/fp8jit bench --m 1,16 --csv $R/dec-on-$v.csv
  FP8JIT_PDL=0 TO=60 t dec-off-$v $B/fp8jit bench --m 1,16 --csv $R/dec-off-$v.csv
  FP8JIT_TUNED_TABLES=$T:abv/tA.csv TO=60 t m16-tA-$v $B/fp8jit bench --m 16 --csv $R/m16-tA-$v.csv
  FP8JIT_TUNED_TABLES=$T:abv/tB.csv TO=60 t m16-tB-$v $B/fp8jit bench --m 16 --csv $R/m16-tB-$v.csv
done
TO=300 t tune-dec $B/fp8jit tune --m 1,16 --candidates 24 --reps 10 --out $R/tuned-dec.csv
FP8JIT_TUNED_TABLES=$T:$R/tuned-dec.csv TO=60 t dec-tuned $B/fp8jit bench --m 1,16 --csv $R/dec-tuned.csv
cd $OUT && tar czf r2.tgz r2 && rm -rf r2
