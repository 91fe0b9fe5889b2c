#!/bin/bash
# Session 6, run 1: mma_sm89 with the token fragments loaded one step ahead, with the weight
# fragments (new, build-gpu) against the committed kernel (abv/old, 45fc9b1): M = 1..8 with the
# tuned table (mma_sm89 rows), then M = 16 with each of eight bm16 mma_sm89 configs forced on all
# eight shapes (abv/tab/*.csv, one config per table), and the [gpu] tests of the new build.
set -u
R=$OUT/r1; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=tuned/h100_sm90a.csv
export FP8JIT_TUNED_TABLES=$T
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
for v in 1 2; do
  FP8JIT_CACHE_DIR=/tmp/c-new TO=90 t dec-new-$v $B/fp8jit bench --m 1,2,4,8 --csv $R/dec-new-$v.csv
  FP8JIT_CACHE_DIR=/tmp/c-old TO=90 t dec-old-$v abv/old/fp8jit bench --m 1,2,4,8 --csv $R/dec-old-$v.csv
done
for f in abv/tab/*.csv; do
  c=$(basename $f .csv)
  FP8JIT_TUNED_TABLES=$T:$f FP8JIT_CACHE_DIR=/tmp/c-new TO=60 t m16-new-$c $B/fp8jit bench --m 16 --csv $R/m16-new-$c.csv
done
for c in bm16_bn32_bk64_w2_s1_k8 bm16_bn32_bk64_w2_s2_k4; do
  FP8JIT_TUNED_TABLES=$T:abv/tab/$c.csv FP8JIT_CACHE_DIR=/tmp/c-old TO=60 t m16-old-$c abv/old/fp8jit bench --m 16 --csv $R/m16-old-$c.csv
done
FP8JIT_CACHE_DIR=/tmp/c-new TO=60 t m16-tuned $B/fp8jit bench --m 16 --csv $R/m16-tuned.csv
FP8JIT_CACHE_DIR=/tmp/c-new TO=200 t gpu-tests $B/tests/fp8jit_tests "[gpu]~[slow]"
cd $OUT && tar czf r1.tgz r1 && rm -rf r1
