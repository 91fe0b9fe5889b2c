#!/bin/bash
# Session 5: the timing protocol at M >= 256 — one round of calls per timed region (--min-calls 1,
# the protocol up to session 4) against at least 8 back-to-back calls (the new default), interleaved,
# same process order, PDL on; SM clocks and power sampled alongside.
set -u
R=$OUT/protocol; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader > $R/device.txt
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_throttle_reasons.active --format=csv -lms 500 > $R/smi.csv 2>&1 &
SMI=$!
B=build-gpu
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "^  M=" $R/$name.log; }
for v in 1 2; do
  TO=100 t calls1-$v $B/fp8jit bench --m 256,1024,4096,8192 --min-calls 1 --csv $R/calls1-$v.csv
  TO=100 t calls8-$v $B/fp8jit bench --m 256,1024,4096,8192 --min-calls 8 --csv $R/calls8-$v.csv
done
kill $SMI
cd $OUT && tar czf protocol.tgz protocol && rm -rf protocol
