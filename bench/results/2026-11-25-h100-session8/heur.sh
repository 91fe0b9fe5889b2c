#!/bin/bash
# Session 8, heur (not kept): the heuristic alone (FP8JIT_TUNED_TABLES=none) before (abv/old, a7e17aa) and
# after (abv/new) the cost model's wgmma rate scales with bm / 128; its picks differ only at
# M = 128 and 256 on the suite's shapes. Two interleaved passes.
set -u
R=$OUT/heur; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,uuid --format=csv,noheader > $R/device.txt
export FP8JIT_TUNED_TABLES=none
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "geomean|inaccurate" $R/$name.log; }
for i in 1 2; do for v in old new; do
  FP8JIT_CACHE_DIR=/tmp/c-h$v TO=120 t $v-$i abv/$v bench --m 128,256 --csv $R/$v-$i.csv
done; done
cd $OUT && tar czf heur.tgz heur && rm -rf heur
