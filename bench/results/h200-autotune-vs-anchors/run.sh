#!/usr/bin/env bash
# Final run, one device call: fp8jit (the autotuned rows, no shipped table) and the cost model alone
# against cuBLASLt in fp8jit bench; torch._scaled_mm and the Triton kernel in compare.py; vLLM's
# CUTLASS kernel. bench/shapes.csv and bench/heldout.csv at 21 token counts, bias on.
set -u
B=.device-build/bin/fp8jit
MS=1,2,4,8,12,16,24,32,48,64,96,128,192,256,384,512,1024,2048,4096,8192,12000
export FP8JIT_CACHE_DIR=/tmp/fp8jit-cache
log=$OUT/log.txt
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv; timeout 60 $B info; } > $OUT/device.txt 2>&1
grep -A1 "cost model" $OUT/device.txt | tee -a $log
grep -hv "^#" bench/shapes.csv > /tmp/shapes.csv; grep -hv "^#" bench/heldout.csv > /tmp/heldout.csv
cp /tmp/shapes.csv /tmp/all.csv; tail -n +2 /tmp/heldout.csv >> /tmp/all.csv
echo "== bench $(date +%T)" | tee -a $log
FP8JIT_TUNED_TABLES=bench/results/h200-autotune/autotuned.csv timeout 170 $B bench --shapes /tmp/all.csv --m $MS \
  --heuristic --reps 10 --min-calls 4 --csv $OUT/bench.csv > $OUT/bench.log 2>&1
echo "bench rc=$?" | tee -a $log; tail -24 $OUT/bench.log | tee -a $log
echo "== compare.py $(date +%T)" | tee -a $log
timeout 170 python3 bench/compare.py --impls torch,triton --shapes bench/shapes.csv,bench/heldout.csv --m $MS \
  --reps 10 --csv $OUT/compare.csv > $OUT/compare.log 2>&1
echo "compare rc=$?" | tee -a $log; tail -3 $OUT/compare.log | tee -a $log
echo "== cutlass $(date +%T)" | tee -a $log
timeout 110 .device-build/anchors/cutlass_ptpc --shapes /tmp/heldout.csv --m $MS --reps 10 --csv $OUT/cutlass-heldout.csv >> $log 2>&1
echo "cutlass heldout rc=$? $(date +%T)" | tee -a $log
timeout 80 .device-build/anchors/cutlass_ptpc --shapes /tmp/shapes.csv --m $MS --reps 10 --csv $OUT/cutlass-shapes.csv >> $log 2>&1
echo "cutlass shapes rc=$? $(date +%T)" | tee -a $log
