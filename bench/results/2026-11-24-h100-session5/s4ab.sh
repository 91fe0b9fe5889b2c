#!/bin/bash
# Session 5: did this session's kernel code change M = 256 / 1024? The session-4 binary (commit
# 19b7852, built the same way, abv/s4/, not committed) against the current one with FP8JIT_PDL=0
# and with PDL on, all with one round of calls per timed region (the session-4 protocol; the
# tuned rows at these M are the same), interleaved. Then compute-sanitizer over the [sanitize]
# selection (PDL on, the default).
set -u
R=$OUT/s4ab; mkdir -p $R
export FP8JIT_CACHE_DIR=/tmp/fp8c; mkdir -p $FP8JIT_CACHE_DIR
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; grep -E "^  M=" $R/$name.log; }
for v in 1 2; do
  TO=60 t s4-$v abv/s4/fp8jit bench --m 256,1024 --csv $R/s4-$v.csv
  FP8JIT_PDL=0 TO=60 t off-$v $B/fp8jit bench --m 256,1024 --min-calls 1 --csv $R/off-$v.csv
  TO=60 t on-$v $B/fp8jit bench --m 256,1024 --min-calls 1 --csv $R/on-$v.csv
done
OUT=$R/san FP8JIT_TUNED_TABLES=none FP8JIT_BUILD_DIR=$B FP8JIT_SANITIZE_TIMEOUT=300 timeout 330 scripts/gpu-sanitize > $R/sanitize.log 2>&1; echo "rc=$?" >> $R/sanitize.log
grep -E '^sanitize( [a-z]+  |: SKIPPED)|^rc=' $R/sanitize.log | tail -4
cd $OUT && tar czf s4ab.tgz s4ab && rm -rf s4ab
