#!/usr/bin/env bash
# Timing only: the wgmma weight read in k-major order (the packed n-major buffer read through a
# k-major view: wrong numbers, real times) against the current order.
set -u
D=.device-build
log=$OUT/log.txt
for pass in 1 2; do
  for v in v0 km; do
    for t in shapes big; do
      f=bench/shapes.csv; tab=$PWD/tuned/h200_sm90a.csv
      [ $t = big ] && f=$D/big.csv && tab=none
      FP8JIT_TUNED_TABLES=$tab FP8JIT_CACHE_DIR=/tmp/c-$v timeout 100 $D/$v/fp8jit bench --shapes $f --m 1,16,64,256 --reps 15 \
        --csv /tmp/k-$t-$v-$pass.csv > /tmp/k.log 2>&1
      echo "$t $v pass=$pass rc=$?" | tee -a $log
    done
  done
done
cd /tmp && tar czf $OUT/km.tar.gz k-*.csv
