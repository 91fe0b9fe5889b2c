#!/bin/bash
# Session 5, run 3: the wgmma family under PDL at M = 16, four variants (abv/, not committed):
# main (the consumers let the next kernel start after their last main loop, no prefetch), early
# (they do so once the last copy has been issued, i + stages >= steps), pf2 / pfST (early, plus
# the producer's L2 prefetch of the first 2 / `stages` weight boxes before the wait). Rows: run 2's
# re-tune (tuned-dec.csv, copied to abv/) over the committed table.
set -u
R=$OUT/r3; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; export FP8JIT_TUNED_TABLES=$B/share/fp8jit/tuned/h100_sm90a.csv:abv/tuned-dec.csv
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
for v in 1 2; do
  TO=60 t m16-main-$v $B/fp8jit bench --m 16 --csv $R/m16-main-$v.csv
  for x in early pf2 pfST; do TO=60 t m16-$x-$v abv/$x/fp8jit bench --m 16 --csv $R/m16-$x-$v.csv; done
done
cd $OUT && tar czf r3.tgz r3 && rm -rf r3
