#!/usr/bin/env bash
# PDL on / off at decode, the shipped H200 table (bench/shapes.csv weights) and the model (big.csv).
set -u
D=.device-build
log=$OUT/log.txt
for pass in 1 2; do
  for pdl in 1 0; do
    for t in shapes big; do
      f=bench/shapes.csv; tab=$PWD/tuned/h200_sm90a.csv
      [ $t = big ] && f=$D/big.csv && tab=none
      FP8JIT_PDL=$pdl FP8JIT_TUNED_TABLES=$tab FP8JIT_CACHE_DIR=/tmp/c-pdl timeout 100 $D/new/fp8jit bench --shapes $f --m 1,16,64 --reps 15 \
        --csv /tmp/b-$t-pdl$pdl-$pass.csv > /tmp/b.log 2>&1
      echo "$t pdl=$pdl pass=$pass rc=$?" | tee -a $log
    done
  done
done
cd /tmp && tar czf $OUT/pdl.tar.gz b-*.csv
