#!/bin/bash
# Session 7, run 1: stream-K for the persistent wgmma_sm90 configs (wg_bm128_bn128 and
# wg_bm64_bn256 with the _sk suffix). The [gpu] tests (a new forced stream-K test among them);
# M = 256 and 1024 with the tuned table on the new build and on the committed one (abv/old,
# eeb9a98: the non-stream-K path was restructured), then with each stream-K config forced on all
# eight shapes (bench/results/2026-11-25-h100-session7/tab/*.csv); compute-sanitizer on the stream-K sanitize test.
set -u
R=$OUT/s7r1; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=tuned/h100_sm90a.csv
export FP8JIT_TUNED_TABLES=$T
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
FP8JIT_CACHE_DIR=/tmp/c-new TO=200 t gpu-tests $B/tests/fp8jit_tests "[gpu]~[slow]"
FP8JIT_CACHE_DIR=/tmp/c-new TO=60 t mid-table-new $B/fp8jit bench --m 256,1024 --csv $R/mid-table-new.csv
FP8JIT_CACHE_DIR=/tmp/c-old TO=60 t mid-table-old abv/old/fp8jit bench --m 256,1024 --csv $R/mid-table-old.csv
for f in bench/results/2026-11-25-h100-session7/tab/wg_*.csv; do
  c=$(basename $f .csv)
  FP8JIT_TUNED_TABLES=$T:$f FP8JIT_CACHE_DIR=/tmp/c-new TO=60 t mid-$c $B/fp8jit bench --m 256,1024 --csv $R/mid-$c.csv
done
FP8JIT_CACHE_DIR=/tmp/c-new TO=60 t mid-table-new2 $B/fp8jit bench --m 256,1024 --csv $R/mid-table-new2.csv
OUT=$R FP8JIT_BUILD_DIR=$B FP8JIT_TUNED_TABLES=none FP8JIT_SANITIZE_TOOLS="memcheck racecheck" \
  FP8JIT_SANITIZE_TESTS="gpu sanitize: stream-K*" TO=150 t sanitize scripts/gpu-sanitize
cd $OUT && tar czf s7r1.tgz s7r1 && rm -rf s7r1
