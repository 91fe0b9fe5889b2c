#!/bin/bash
# Session 6, prof: ncu on the weakest M = 256 / 1024 points of the final run (fp8jit's kernel and
# cuBLASLt's, first launches of each), for the next step on those buckets.
set -u
R=$OUT/prof; mkdir -p $R
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader > $R/device.txt
B=build-gpu; P=bench/results/2026-11-25-h100-session6/prof
export FP8JIT_CACHE_DIR=/tmp/c-prof
S="--section SpeedOfLight --section MemoryWorkloadAnalysis --section SchedulerStats --section WarpStateStats --section Occupancy --section LaunchStats"
p() { local name=$1 shapes=$2 m=$3 kern=$4; echo "== $name $(date +%T)"
  timeout 100 ncu $S -k regex:"$kern" --launch-count 1 $B/fp8jit bench --shapes $P/$shapes --m $m --reps 1 --min-calls 1 > $R/$name.log 2>&1; echo "rc=$?" >> $R/$name.log; tail -1 $R/$name.log; }
p gate_up8-m256 gate_up8.txt 256 fp8gemm
p cublas-gate_up8-m256 gate_up8.txt 256 nvjet
p qkv70-m1024 qkv70.txt 1024 fp8gemm
p cublas-qkv70-m1024 qkv70.txt 1024 nvjet
p gate_up70-m256 gate_up70.txt 256 fp8gemm
cd $OUT && tar czf prof.tgz prof && rm -rf prof
