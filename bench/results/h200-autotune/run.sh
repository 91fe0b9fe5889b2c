#!/usr/bin/env bash
# Work run: calibration, fp8jit tune for the bench/shapes.csv weights the first sweep did not reach,
# warmup --autotune of every weight (no table) at every bucket M, a second process, export-table.
set -u
B=.device-build/bin/fp8jit
BUCKETS=1,2,4,8,12,16,24,32,48,64,96,128,192,256,384,512,1024,2048,4096,8192
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache
log=$OUT/log.txt
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; timeout 60 $B info; } > $OUT/device.txt 2>&1
echo "== info rc=$? $(date +%T)" | tee -a $log; grep -A1 "cost model" $OUT/device.txt | tee -a $log
printf 'model,layer,N,K\nllama3-70b,o,8192,8192\nllama3-70b,gate_up,57344,8192\nllama3-70b,down,8192,28672\n' > /tmp/tune3.csv
echo "== tune $(date +%T)" | tee -a $log
FP8JIT_TUNED_TABLES=tuned/h100_sm90a.csv timeout 150 $B tune --shapes /tmp/tune3.csv --m $BUCKETS --candidates 24 --reps 5 --min-calls 8 -j 16 \
  --out $OUT/h200-tune3.csv > $OUT/tune3.log 2>&1; echo "tune rc=$?" | tee -a $log; tail -2 $OUT/tune3.log | tee -a $log
grep -hv "^#" bench/shapes.csv > /tmp/all.csv; grep -hv "^#" bench/heldout.csv | tail -n +2 >> /tmp/all.csv
echo "== autotune $(date +%T)" | tee -a $log
FP8JIT_TUNED_TABLES=none timeout 270 $B warmup --autotune --shapes /tmp/all.csv --m $BUCKETS --bias on > $OUT/autotune.log 2>&1
echo "autotune rc=$?" | tee -a $log; head -2 $OUT/autotune.log | tee -a $log; tail -1 $OUT/autotune.log | tee -a $log
echo "== second process $(date +%T)" | tee -a $log
FP8JIT_TUNED_TABLES=none timeout 60 $B warmup --autotune --shapes bench/shapes.csv --m $BUCKETS --bias on 2>&1 | tail -1 | tee -a $log
$B cache export-table $OUT/autotuned.csv 2>&1 | tail -1 | tee -a $log
echo "== done $(date +%T)" | tee -a $log
