#!/bin/bash
# Session 7, prof1: why stream-K ran slower (run1). The same config with and without _sk
# (wg_bm128_bn128_bk128_w8_s6_k1, persistent) on llama3-8b.qkv M = 256 (96 tiles < 132 blocks)
# and llama3-70b.qkv M = 1024 (640 tiles, 4.85 waves): bench with and without programmatic
# launch, then ncu (first launch) with warp-state and source-level stall sampling.
set -u
R=$OUT/prof1; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; T=tuned/h100_sm90a.csv
export FP8JIT_CACHE_DIR=/tmp/c-prof
t() { local name=$1; shift; echo "== $name $(date +%T)"; timeout ${TO:-120} "$@" > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -2 $R/$name.log; }
for v in sk dp; do
  for pdl in 1 0; do
    FP8JIT_PDL=$pdl FP8JIT_TUNED_TABLES=$T:bench/results/2026-11-25-h100-session7/tab/p-$v.csv TO=40 t bench-qkv8-$v-pdl$pdl $B/fp8jit bench --shapes bench/results/2026-11-25-h100-session7/tab/qkv8.txt --m 256
    FP8JIT_PDL=$pdl FP8JIT_TUNED_TABLES=$T:bench/results/2026-11-25-h100-session7/tab/p-$v.csv TO=40 t bench-qkv70-$v-pdl$pdl $B/fp8jit bench --shapes bench/results/2026-11-25-h100-session7/tab/qkv70.txt --m 1024
  done
done
S="--section SpeedOfLight --section MemoryWorkloadAnalysis --section SchedulerStats --section WarpStateStats --section SourceCounters"
for v in sk dp; do
  FP8JIT_TUNED_TABLES=$T:bench/results/2026-11-25-h100-session7/tab/p-$v.csv TO=100 t ncu-qkv8-$v ncu $S -k regex:fp8gemm --launch-count 1 $B/fp8jit bench --shapes bench/results/2026-11-25-h100-session7/tab/qkv8.txt --m 256 --reps 1 --min-calls 1
  FP8JIT_TUNED_TABLES=$T:bench/results/2026-11-25-h100-session7/tab/p-$v.csv TO=100 t ncu-qkv70-$v ncu $S -k regex:fp8gemm --launch-count 1 $B/fp8jit bench --shapes bench/results/2026-11-25-h100-session7/tab/qkv70.txt --m 1024 --reps 1 --min-calls 1
done
cd $OUT && tar czf prof1.tgz prof1 && rm -rf prof1
