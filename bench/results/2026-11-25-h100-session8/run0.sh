#!/bin/bash
# Session 8, run 0: time-stamp the stream-K hand-over. abv/sktrace is branch stream-k (4996143)
# with sktrace.patch applied (consumer thread 0 of every block prints %globaltimer at its start,
# before and after saving its partial, before and after add_partials, and at its end, with its
# first and last piece). llama3-8b.qkv, wg_bm128_bn128_bk128_w8_s6_k1_sk forced
# (bench/results/2026-11-25-h100-session7/tab/q-sk.csv), M = 256; --reps 1 --min-calls 1 and a
# full bench, with and without programmatic launch. Only the PDL-off short run is kept
# (run0/sktrace-pdl0.log.gz; with PDL on, the printf tail of one launch delays the next's start).
set -u
R=$OUT/trace; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
T=tuned/h100_sm90a.csv; D=bench/results/2026-11-25-h100-session7/tab
export FP8JIT_CACHE_DIR=/tmp/c-tr
for pdl in 1 0; do
  FP8JIT_PDL=$pdl FP8JIT_TUNED_TABLES=$T:$D/q-sk.csv timeout 60 abv/sktrace bench --shapes $D/qkv8.txt --m 256 --reps 1 --min-calls 1 > $R/pdl$pdl.log 2>&1; echo rc=$? >> $R/pdl$pdl.log
  FP8JIT_PDL=$pdl FP8JIT_TUNED_TABLES=$T:$D/q-sk.csv timeout 60 abv/sktrace bench --shapes $D/qkv8.txt --m 256 > $R/pdl$pdl-full.log 2>&1; echo rc=$? >> $R/pdl$pdl-full.log
done
grep -v SKT $R/pdl1.log | tail -5; grep -c SKT $R/*.log
cd $OUT && tar czf trace.tgz trace && rm -rf trace
