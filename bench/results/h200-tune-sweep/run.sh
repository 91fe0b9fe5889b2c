#!/usr/bin/env bash
# Data run: tune sweeps with every candidate's outcome dumped, and the CUTLASS anchor.
set -u
B=.device-build/bin/fp8jit
MS=1,2,4,8,12,16,24,32,48,64,96,128,192,256,384,512,1024,2048,4096,8192,12000
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache FP8JIT_TUNED_TABLES=tuned/h100_sm90a.csv
log=$OUT/log.txt
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; $B info; } > $OUT/device.txt 2>&1
echo "== heldout tune $(date +%T)" | tee -a $log
timeout 250 $B tune --shapes bench/heldout.csv --m $MS --candidates 24 --reps 5 --min-calls 8 -j 16 \
  --out $OUT/h200-heldout.csv --dump $OUT/dump-heldout.csv 2>&1 | tee -a $log | tail -3
echo "== shapes tune $(date +%T)" | tee -a $log
timeout 230 $B tune --shapes bench/shapes.csv --m $MS --candidates 24 --reps 5 --min-calls 8 -j 16 \
  --out $OUT/h200-shapes.csv --dump $OUT/dump-shapes.csv 2>&1 | tee -a $log | tail -3
echo "== cutlass $(date +%T)" | tee -a $log
grep -hv "^#" bench/shapes.csv > /tmp/all.csv; grep -hv "^#" bench/heldout.csv | tail -n +2 >> /tmp/all.csv
timeout 90 .device-build/anchors/cutlass_ptpc --shapes /tmp/all.csv --m $MS --reps 10 --csv $OUT/cutlass.csv > $OUT/cutlass.log 2>&1
echo "cutlass rc=$?" | tee -a $log; tail -3 $OUT/cutlass.log
echo "== done $(date +%T)" | tee -a $log
