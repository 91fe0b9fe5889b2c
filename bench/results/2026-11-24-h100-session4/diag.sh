#!/usr/bin/env bash
# Session 4, first device call: what cuBLASLt launches (tile, cluster, grid) at the points where
# fp8jit loses, where fp8jit's M = 1024 kernel stalls (source-level sampling), why M = 8192 runs
# slower per flop than M = 4096, and a wider tune of the decode points of the 85%-of-copy target.
set -x
cd "$(dirname "$0")/../../.."
export FP8JIT_CACHE_DIR=/tmp/fc
B=build-gpu/fp8jit
NCU=/usr/local/cuda/bin/ncu
O=${OUT:-/tmp/out}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.sm,power.limit,temperature.gpu --format=csv > $O/device.txt
printf '6144,4096\n' > /tmp/qkv8.csv
printf '8192,8192\n' > /tmp/o70.csv
printf '4096,14336\n' > /tmp/down8.csv
printf '10240,8192\n8192,8192\n' > /tmp/decode.csv
# 1. cuBLASLt's kernels (name = tile/cluster/schedule), launch shape and speed of light.
for p in "qkv8 256" "qkv8 1024" "qkv8 8192" "o70 1024" "o70 8192" "down8 256"; do
  set -- $p
  timeout 100 $NCU --kernel-name 'regex:^(?!fp8)' --launch-count 1 --section LaunchStats \
    --section SpeedOfLight --section Occupancy $B bench --shapes /tmp/$1.csv --m $2 --reps 1 \
    > $O/ncu-cublas-$1-m$2.log 2>&1
done
# 2. fp8jit at M = 1024 (llama3-8b.qkv): stall sampling per SASS instruction.
timeout 150 $NCU --kernel-name regex:fp8gemm --launch-skip 2 --launch-count 1 --import-source no \
  --section SourceCounters --section WarpStateStats --section SpeedOfLight --section LaunchStats \
  --section MemoryWorkloadAnalysis --section SchedulerStats -o $O/qkv8-m1024 \
  $B bench --shapes /tmp/qkv8.csv --m 1024 --reps 1 > $O/ncu-qkv8-m1024.log 2>&1
$NCU -i $O/qkv8-m1024.ncu-rep --page source --csv --print-source sass > $O/qkv8-m1024-sass.csv 2>&1
$NCU -i $O/qkv8-m1024.ncu-rep --page details > $O/qkv8-m1024-details.txt 2>&1
# 3. fp8jit at M = 4096 against 8192 (same config): L2 hit rate, DRAM traffic, clocks.
for m in 4096 8192; do
  timeout 100 $NCU --kernel-name regex:fp8gemm --launch-skip 2 --launch-count 1 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section LaunchStats \
    $B bench --shapes /tmp/qkv8.csv --m $m --reps 1 > $O/ncu-qkv8-m$m.log 2>&1
done
# 4. The decode points of the 85% target, tuned wider than the committed table (48 candidates).
timeout 200 $B tune --shapes /tmp/decode.csv --m 1,16 --candidates 48 --reps 20 \
  --out $O/tuned-decode.csv > $O/tune-decode.log 2>&1
tail -6 $O/tune-decode.log
grep -h -E "Duration|Block Size|Grid Size|Cluster|Registers|Shared Memory Config|Compute \(SM\)|L2 Cache Thr|DRAM Thr|^  [a-z_0-9]+.*\(" $O/ncu-cublas-*.log | head -120
