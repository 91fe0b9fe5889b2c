#!/bin/bash
# Session 7, run 2 (branch stream-k, 4996143): llama3-8b.qkv with wg_bm128_bn128_bk128_w8_s6_k1
# with and without _sk at M = 1408 (528 tiles = 4 x 132: no runs, the stream-K build's
# round-robin path only), 1536 (576 tiles: 396 whole, 180 cut into runs), 256 and 512, twice
# interleaved: is the main loop slower, or the hand-over?
set -u
R=$OUT/s7r2; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=tuned/h100_sm90a.csv
export FP8JIT_CACHE_DIR=/tmp/c-q
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
for i in 1 2; do for v in sk dp; do
  FP8JIT_TUNED_TABLES=$T:bench/results/2026-11-25-h100-session7/tab/q-$v.csv TO=40 t q-$v-$i $B/fp8jit bench --shapes bench/results/2026-11-25-h100-session7/tab/qkv8.txt --m 256,512,1408,1536 --csv $R/q-$v-$i.csv
done; done
cd $OUT && tar czf s7r2.tgz s7r2 && rm -rf s7r2
